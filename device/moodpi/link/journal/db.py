"""The journal's one read-write connection: its schema, and writes that never raise.

WAL and synchronous=FULL: events are rare and an outbox row must survive a power cut. The main
loop and the MQTT thread share the connection under `lock`. A failing write (read-only
directory, disk full) is logged loudly once, then only counted: it never raises into the caller
and, SQLite transactions being atomic, never damages what is already stored. A corrupt file is
set aside and a fresh one made (file.py); what its outbox still held is handed back to the
journal.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moodpi.link.journal.file import JournalTooNew, check_integrity, is_corruption, set_aside

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
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


class Db:
    """The connection to the journal file at `path`; None until `connect` succeeds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.conn: sqlite3.Connection | None = None
        self.write_errors = 0
        self._failing = False

    @property
    def healthy(self) -> bool:
        """True while the file is open and its last write succeeded."""
        return self.conn is not None and not self._failing

    def connect(
        self, loaded: Callable[[sqlite3.Connection], None], clock: Callable[[], float]
    ) -> list[tuple[int, str]]:
        """Open, check and migrate the file, then `loaded(conn)`; a corrupt file is set aside
        (named with `clock`'s time) and rebuilt. Returns the (seq, event JSON) rows salvaged
        from a corrupt file's outbox. Raises sqlite3.Error or OSError if no file can be opened."""
        try:
            self._connect(loaded)
            return []
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            self.disconnect()
            salvaged = set_aside(self.path, exc, clock())
            self._connect(loaded)  # a fresh file: history is kept again
            return salvaged

    def _connect(self, loaded: Callable[[sqlite3.Connection], None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        check_integrity(self.conn)
        _migrate(self.conn)
        loaded(self.conn)

    def disconnect(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
        self.conn = None

    def close(self) -> None:
        with self.lock:
            if self.conn is None:
                return
            try:
                self.conn.close()
            except sqlite3.Error as exc:
                log.warning("journal close failed: %s", exc)
            self.conn = None

    def write(self, what: str, fn: Callable[[sqlite3.Connection], Any]) -> bool:
        """Run fn in one transaction; False (logged once, counted) when it could not be written."""
        with self.lock:
            if self.conn is None:
                self.write_errors += 1
                return False
            try:
                with self.conn:  # commit, or roll back and leave the file as it was
                    fn(self.conn)
            except (sqlite3.Error, OSError) as exc:
                self.fail(what, exc)
                return False
            if self._failing:
                self._failing = False
                log.warning(
                    "journal %s writable again after %d failed writes",
                    self.path,
                    self.write_errors,
                )
            return True

    def read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of one query; none (logged at debug) when the file is closed or unreadable."""
        with self.lock:
            if self.conn is None:
                return []
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                log.debug("journal: reading failed (%s): %s", sql, exc)
                return []

    def fail(self, what: str, exc: BaseException) -> None:
        self.write_errors += 1
        if not self._failing:
            self._failing = True
            log.error(
                "journal %s: %s failed: %s; history is not being kept (further failures "
                "are only counted)",
                self.path,
                what,
                exc,
            )


def _migrate(c: sqlite3.Connection) -> None:
    version = c.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise JournalTooNew(
            f"journal schema {version} is newer than this moodpi's ({SCHEMA_VERSION})"
        )
    for number in range(version, SCHEMA_VERSION):  # each step atomic: all of it or nothing
        c.executescript(
            f"BEGIN; {_MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
        )


def set_meta(c: sqlite3.Connection, key: str, value: int) -> None:
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
