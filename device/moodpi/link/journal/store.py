"""The SQLite journal: every event kept for `retention_days`, and the MQTT outbox.

One connection (WAL, synchronous=FULL: events are rare and an outbox row must survive a power
cut) shared by the main loop and the MQTT thread under a lock. A failing write (read-only
directory, disk full) is logged loudly once, then only counted: it never raises into the caller
and, SQLite transactions being atomic, never damages what is already stored. While writes fail,
outbox events wait in memory so MQTT still delivers them, and `seq` keeps counting from the last
mark that was read.

`seq` numbers are reserved in blocks (`meta.seq_reserved`), so numbering resumes above the mark
(the daemon's own numbering, kept outside the journal, is identity.py's). A corrupt file is set
aside and rebuilt (file.py). Queries: moodpi.cli.history.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from moodpi.link.journal.file import (
    JournalTooNew,
    check_integrity,
    connect_readonly,
    dumps,
    event_row,
    is_corruption,
    set_aside,
)

log = logging.getLogger(__name__)

__all__ = ["SEQ_BLOCK", "Journal", "connect_readonly"]
SCHEMA_VERSION = 1
SEQ_BLOCK = 64
PRUNE_EVERY_S = 3600.0
_MIGRATIONS = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_s REAL NOT NULL, ended_s REAL);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY, seq INTEGER, type TEXT NOT NULL, t REAL, at TEXT NOT NULL,
        at_s REAL NOT NULL, session INTEGER, emotion TEXT, confidence REAL, present INTEGER,
        path TEXT, category TEXT, data TEXT NOT NULL);
    CREATE INDEX events_at_s ON events (at_s);
    CREATE TABLE outbox (seq INTEGER PRIMARY KEY, event TEXT NOT NULL);
    """,
]


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
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._session: int | None = None
        self._seq_next = 1
        self._seq_reserved = 0
        self._outbox_len = 0
        self._memory_outbox: dict[int, str] = {}  # seq → JSON, while the disk refuses writes
        self._acked: set[int] = set()  # acknowledged, but the delete could not be written
        self._outbox_dropped = 0
        self._write_errors = 0
        self._failing = False
        self._last_prune_s = 0.0

    # ----------------------------------------------------------------------------- lifecycle

    def open(self) -> None:
        with self._lock:
            salvaged: list[tuple[int, str]] = []
            try:
                try:
                    self._connect()
                except sqlite3.DatabaseError as exc:
                    if not is_corruption(exc):
                        raise
                    self._disconnect()
                    salvaged = set_aside(self.path, exc, self._clock())
                    self._connect()  # a fresh file: history is kept again
                self._write("salvage", lambda c: self._salvage(c, salvaged))
            except (sqlite3.Error, OSError) as exc:
                self._fail("open", exc)
                self._disconnect()
                self._load_counters_readonly()
                return
            now_s = self._clock()
            self._write("session", lambda c: self._start_session(c, now_s))
            self._prune(now_s)

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        check_integrity(self._conn)
        self._migrate(self._conn)
        self._load_counters(self._conn)

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            if self._session is not None:
                session, now_s = self._session, self._clock()
                self._write(
                    "session",
                    lambda c: c.execute(
                        "UPDATE sessions SET ended_s = ? WHERE id = ?", (now_s, session)
                    ),
                )
            try:
                self._conn.close()
            except sqlite3.Error as exc:
                log.warning("journal close failed: %s", exc)
            self._conn = None

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
        return self._conn is not None and not self._failing

    @property
    def write_errors(self) -> int:
        return self._write_errors

    @property
    def outbox_dropped(self) -> int:
        """Undelivered events dropped because the outbox was full, over the journal's lifetime."""
        return self._outbox_dropped

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "healthy": self.healthy,
                "write_errors": self._write_errors,
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
                self._write("seq", lambda c: _set_meta(c, "seq_reserved", mark))
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
            self._write(
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
            if not self._write("enqueue", lambda c: self._insert_outbox(c, seq, text)):
                self._memory_outbox[seq] = text
            excess = self._outbox_len + len(self._memory_outbox) - self.outbox_max
            if excess > 0:
                self._drop_oldest(excess)

    def pending(self, limit: int = 100) -> list[dict[str, Any]]:
        """Undelivered events, oldest (lowest seq) first."""
        with self._lock:
            rows: list[tuple[int, str]] = []
            if self._conn is not None and self._outbox_len:
                try:
                    rows = self._conn.execute(
                        "SELECT seq, event FROM outbox ORDER BY seq LIMIT ?", (limit,)
                    ).fetchall()
                except sqlite3.Error as exc:
                    log.debug("journal: reading the outbox failed: %s", exc)
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

            if not self._write("ack", delete):
                self._acked.add(seq)  # not offered again while the disk refuses the delete

    def _salvage(self, c: sqlite3.Connection, rows: list[tuple[int, str]]) -> None:
        for seq, text in rows:
            self._insert_outbox(c, seq, text)

    def _insert_outbox(self, c: sqlite3.Connection, seq: int, text: str) -> None:
        cur = c.execute("INSERT OR IGNORE INTO outbox (seq, event) VALUES (?, ?)", (seq, text))
        self._outbox_len += cur.rowcount

    def _drop_oldest(self, n: int) -> None:
        stored: list[int] = []
        if self._conn is not None and self._outbox_len:
            try:
                query = "SELECT seq FROM outbox ORDER BY seq LIMIT ?"
                stored = [row[0] for row in self._conn.execute(query, (n,))]
            except sqlite3.Error as exc:
                log.debug("journal: reading the outbox failed: %s", exc)
        victims = sorted([*stored, *self._memory_outbox])[:n]
        for seq in victims:
            self._memory_outbox.pop(seq, None)
        from_disk = [(seq,) for seq in victims if seq in set(stored)]
        total = self._outbox_dropped + len(victims)

        def delete(c: sqlite3.Connection) -> None:
            self._outbox_len -= c.executemany(
                "DELETE FROM outbox WHERE seq = ?", from_disk
            ).rowcount
            _set_meta(c, "outbox_dropped", total)

        self._write("drop", delete)
        if self._outbox_dropped == 0:
            log.warning("MQTT outbox full (%d events): dropping the oldest", self.outbox_max)
        self._outbox_dropped = total

    # ----------------------------------------------------------------------------- internals

    def _write(self, what: str, fn: Callable[[sqlite3.Connection], Any]) -> bool:
        """Run fn in one transaction; False (logged once, counted) when it could not be written."""
        with self._lock:
            if self._conn is None:
                self._write_errors += 1
                return False
            try:
                with self._conn:  # commit, or roll back and leave the file as it was
                    fn(self._conn)
            except (sqlite3.Error, OSError) as exc:
                self._fail(what, exc)
                return False
            if self._failing:
                self._failing = False
                log.warning(
                    "journal %s writable again after %d failed writes",
                    self.path,
                    self._write_errors,
                )
            return True

    def _fail(self, what: str, exc: BaseException) -> None:
        self._write_errors += 1
        if not self._failing:
            self._failing = True
            log.error(
                "journal %s: %s failed: %s; history is not being kept (further failures "
                "are only counted)",
                self.path,
                what,
                exc,
            )

    def _migrate(self, c: sqlite3.Connection) -> None:
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalTooNew(
                f"journal schema {version} is newer than this moodpi's ({SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):  # each step atomic: all of it or nothing
            c.executescript(
                f"BEGIN; {_MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
            )

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

        self._write("prune", prune)


def _set_meta(c: sqlite3.Connection, key: str, value: int) -> None:
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
