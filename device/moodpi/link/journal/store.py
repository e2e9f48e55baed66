"""The SQLite journal: every event kept for `retention_days`, and the MQTT outbox.

The main loop records events and queues mood and presence for MQTT; the MQTT thread reads and
acknowledges them. Both go through one connection whose writes never raise (db.py). While writes
fail, outbox events wait in memory so MQTT still delivers them, and `seq` keeps counting from the
last mark that was read.

`seq` numbers are reserved in blocks (`meta.seq_reserved`), so numbering resumes above the mark
(the daemon's own numbering, kept outside the journal, is identity.py's). A corrupt file is set
aside and rebuilt (file.py). Queries: moodpi.cli.history.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from moodpi.link.journal.db import Db, set_meta
from moodpi.link.journal.file import connect_readonly, dumps, event_row

log = logging.getLogger(__name__)

SEQ_BLOCK = 64
PRUNE_EVERY_S = 3600.0


class Journal:
    def __init__(
        self,
        path: Path,
        *,
        retention_days: int,
        outbox_max: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self.outbox_max = outbox_max
        self._clock = clock  # wall clock (epoch seconds): `at` of events, retention, sessions
        self._db = Db(self.path)
        self._lock = self._db.lock
        self._session: int | None = None
        self._seq_next = 1
        self._seq_reserved = 0
        self._outbox_len = 0
        self._memory_outbox: dict[int, str] = {}  # seq → JSON, while the disk refuses writes
        self._acked: set[int] = set()  # acknowledged, but the delete could not be written
        self._outbox_dropped = 0
        self._last_prune_s = 0.0

    # ----------------------------------------------------------------------------- lifecycle

    def open(self) -> None:
        with self._lock:
            try:
                salvaged = self._db.connect(self._load_counters, self._clock)
            except (sqlite3.Error, OSError) as exc:
                self._db.fail("open", exc)
                self._db.disconnect()
                self._load_counters_readonly()
                return
            self._db.write("salvage", lambda c: self._salvage(c, salvaged))
            now_s = self._clock()
            self._db.write("session", lambda c: self._start_session(c, now_s))
            self._prune(now_s)

    def close(self) -> None:
        with self._lock:
            if self._db.conn is None:
                return
            if self._session is not None:
                session, now_s = self._session, self._clock()
                self._db.write(
                    "session",
                    lambda c: c.execute(
                        "UPDATE sessions SET ended_s = ? WHERE id = ?", (now_s, session)
                    ),
                )
            self._db.close()

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------------------- state

    @property
    def healthy(self) -> bool:
        """True while the journal is open and its last write succeeded."""
        return self._db.healthy

    @property
    def write_errors(self) -> int:
        return self._db.write_errors

    @property
    def outbox_dropped(self) -> int:
        """Undelivered events dropped because the outbox was full, over the journal's lifetime."""
        return self._outbox_dropped

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "healthy": self.healthy,
                "write_errors": self._db.write_errors,
                "outbox_pending": self._outbox_len + len(self._memory_outbox),
                "outbox_dropped": self._outbox_dropped,
            }

    # ----------------------------------------------------------------------------- events

    @property
    def seq_floor(self) -> int:
        """The lowest seq the journal has not seen used (after open)."""
        return self._seq_next

    def next_seq(self) -> int:
        with self._lock:
            seq = self._seq_next
            self._seq_next += 1
            if seq >= self._seq_reserved:
                self._seq_reserved = seq + SEQ_BLOCK
                mark = self._seq_reserved
                self._db.write("seq", lambda c: set_meta(c, "seq_reserved", mark))
            return seq

    def record(self, event: Mapping[str, Any]) -> None:
        """Keep one event (type, seq, t, at, and whatever else it carries)."""
        try:
            row = event_row(event, self._clock)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("journal: malformed event not recorded (%s): %.200r", exc, event)
            return
        with self._lock:
            session = self._session
            self._db.write(
                "record",
                lambda c: c.execute(
                    "INSERT INTO events (seq, type, t, at, at_s, session, emotion, confidence,"
                    " present, path, category, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*row[:5], session, *row[5:]),
                ),
            )
            now_s = self._clock()
            if now_s - self._last_prune_s >= PRUNE_EVERY_S:
                self._prune(now_s)

    # ----------------------------------------------------------------------------- outbox

    def enqueue(self, event: Mapping[str, Any]) -> None:
        """Hold a mood/presence event for MQTT until ack(seq); oldest dropped beyond outbox_max."""
        try:
            seq, text = int(event["seq"]), dumps(event)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("journal: malformed event not queued (%s): %.200r", exc, event)
            return
        with self._lock:
            if not self._db.write("enqueue", lambda c: self._insert_outbox(c, seq, text)):
                self._memory_outbox[seq] = text
            excess = self._outbox_len + len(self._memory_outbox) - self.outbox_max
            if excess > 0:
                self._drop_oldest(excess)

    def pending(self, limit: int = 100) -> list[dict[str, Any]]:
        """Undelivered events, oldest (lowest seq) first."""
        with self._lock:
            rows: list[tuple[int, str]] = []
            if self._outbox_len:
                rows = self._db.read("SELECT seq, event FROM outbox ORDER BY seq LIMIT ?", (limit,))
            rows = sorted([*rows, *self._memory_outbox.items()])
            return [json.loads(text) for seq, text in rows if seq not in self._acked][:limit]

    def ack(self, seq: int) -> None:
        """The broker has the event: forget it."""
        with self._lock:
            if self._memory_outbox.pop(seq, None) is not None:
                return

            def delete(c: sqlite3.Connection) -> None:
                if c.execute("DELETE FROM outbox WHERE seq = ?", (seq,)).rowcount:
                    self._outbox_len -= 1

            if not self._db.write("ack", delete):
                self._acked.add(seq)  # not offered again while the disk refuses the delete

    def _salvage(self, c: sqlite3.Connection, rows: list[tuple[int, str]]) -> None:
        for seq, text in rows:
            self._insert_outbox(c, seq, text)

    def _insert_outbox(self, c: sqlite3.Connection, seq: int, text: str) -> None:
        cur = c.execute("INSERT OR IGNORE INTO outbox (seq, event) VALUES (?, ?)", (seq, text))
        self._outbox_len += cur.rowcount

    def _drop_oldest(self, n: int) -> None:
        query = "SELECT seq FROM outbox ORDER BY seq LIMIT ?"
        stored = [row[0] for row in self._db.read(query, (n,))] if self._outbox_len else []
        victims = sorted([*stored, *self._memory_outbox])[:n]
        for seq in victims:
            self._memory_outbox.pop(seq, None)
        from_disk = [(seq,) for seq in victims if seq in set(stored)]
        total = self._outbox_dropped + len(victims)

        def delete(c: sqlite3.Connection) -> None:
            self._outbox_len -= c.executemany(
                "DELETE FROM outbox WHERE seq = ?", from_disk
            ).rowcount
            set_meta(c, "outbox_dropped", total)

        self._db.write("drop", delete)
        if self._outbox_dropped == 0:
            log.warning("MQTT outbox full (%d events): dropping the oldest", self.outbox_max)
        self._outbox_dropped = total

    # ----------------------------------------------------------------------------- internals

    def _load_counters(self, c: sqlite3.Connection) -> None:
        meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        top = c.execute("SELECT MAX(seq) FROM events UNION ALL SELECT MAX(seq) FROM outbox")
        highest = max((row[0] or 0 for row in top.fetchall()), default=0)
        self._seq_next = max(int(meta.get("seq_reserved", 1)), highest + 1, self._seq_next)
        self._seq_reserved = self._seq_next  # the first next_seq() reserves the next block
        self._outbox_dropped = int(meta.get("outbox_dropped", 0))
        self._outbox_len = c.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def _load_counters_readonly(self) -> None:
        """Writes are impossible; still resume seq numbering where the file left off."""
        try:
            c = connect_readonly(self.path)
        except (sqlite3.Error, OSError):
            return
        try:
            self._load_counters(c)
        except sqlite3.Error:
            pass
        finally:
            c.close()

    def _start_session(self, c: sqlite3.Connection, now_s: float) -> None:
        self._session = c.execute("INSERT INTO sessions (started_s) VALUES (?)", (now_s,)).lastrowid

    def _prune(self, now_s: float) -> None:
        self._last_prune_s = now_s
        cutoff = now_s - self.retention_days * 86400.0

        def prune(c: sqlite3.Connection) -> None:
            n = c.execute("DELETE FROM events WHERE at_s < ?", (cutoff,)).rowcount
            c.execute("DELETE FROM sessions WHERE ended_s < ?", (cutoff,))
            if n:
                log.info("journal: pruned %d events older than %d days", n, self.retention_days)

        self._db.write("prune", prune)
