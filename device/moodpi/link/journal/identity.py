"""Event identity that survives the loss of the journal: an epoch beside `seq`, and a seq floor.

Subscribers de-duplicate events on (epoch, seq) (docs/mqtt.md). Within one epoch `seq` only
ever grows; a new epoch says "numbering may have started again: forget the seqs you saw".

Both live in `identity.json`, a small file beside the journal, not in it: deleting or losing a
corrupt journal leaves numbering where it was. Seq numbers are reserved in blocks and the mark
is written (atomically: temporary file, fsync, rename) before any number of a new block is
handed out, so a crash never reuses one. Whenever continuity cannot be proven, a fresh random
epoch is taken: the file is missing or unreadable, or a reservation cannot be written (a
read-only or full state dir: the next start could not know how far this run counted).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from pathlib import Path

from moodpi.config.files import UnreadableFile, read_text_limited

log = logging.getLogger(__name__)

FILE_NAME = "identity.json"
SEQ_BLOCK = 64
MAX_FILE_BYTES = 4096


def new_epoch() -> str:
    """12 hex digits: 48 random bits, so two epochs of one device never meet."""
    return secrets.token_hex(6)


class Identity:
    """The epoch and the next seq; thread-safe. `path` None: nothing kept (a new epoch per run)."""

    def __init__(self, path: Path | None, block: int = SEQ_BLOCK) -> None:
        self.path = path
        self._block = block
        self._lock = threading.Lock()
        self._epoch = new_epoch()
        self._next = 1
        self._reserved = 0  # numbers below this are covered by a written mark
        self._durable = path is not None  # False once a mark could not be written

    @property
    def epoch(self) -> str:
        return self._epoch

    def open(self, floor: int = 1) -> None:
        """Read the file; numbering resumes at its mark or at `floor` (the journal's), whichever
        is higher. A missing or broken file starts a new epoch."""
        with self._lock:
            stored = self._read()
            if stored is not None:
                self._epoch, mark = stored
                self._next = max(mark, floor, 1)
            else:
                self._next = max(floor, 1)
                log.info(
                    "event identity: new epoch %s, seq from %d%s",
                    self._epoch,
                    self._next,
                    f" (no usable {self.path})" if self.path else "",
                )
            self._reserved = self._next  # the first next_seq() writes the next mark

    def next_seq(self) -> int:
        with self._lock:
            seq = self._next
            self._next += 1
            if seq >= self._reserved:
                self._reserved = seq + self._block
                if self._durable and not self._write(self._reserved):
                    self._durable = False
                    self._epoch = new_epoch()
                    log.warning(
                        "event identity: cannot write %s; events continue in a new epoch %s",
                        self.path,
                        self._epoch,
                    )
            return seq

    def _read(self) -> tuple[str, int] | None:
        if self.path is None or not (self.path.exists() or self.path.is_symlink()):
            return None
        try:
            data = json.loads(read_text_limited(self.path, MAX_FILE_BYTES))
            epoch, mark = data["epoch"], data["seq_reserved"]
        except (UnreadableFile, ValueError, KeyError, TypeError) as exc:
            log.warning("event identity: %s unreadable (%s): a new epoch", self.path, exc)
            return None
        valid = isinstance(epoch, str) and 0 < len(epoch) <= 64 and epoch.isalnum()
        if not valid or not isinstance(mark, int) or isinstance(mark, bool) or mark < 1:
            log.warning("event identity: %s holds no valid epoch and mark", self.path)
            return None
        return epoch, mark

    def _write(self, mark: int) -> bool:
        assert self.path is not None
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        text = json.dumps({"epoch": self._epoch, "seq_reserved": mark}) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            log.debug("event identity: writing %s failed: %s", self.path, exc)
            return False
        return True
