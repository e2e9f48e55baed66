"""The SQLite journal: every event kept for `retention_days`, the MQTT outbox, and `moodpi history`.

One connection (WAL, synchronous=FULL: events are rare and an outbox row must survive a power
cut) shared by the main loop and the MQTT thread under a lock. A failing write (read-only
directory, disk full) is logged loudly once, then only counted: it never raises into the caller
and, SQLite transactions being atomic, never damages what is already stored. While writes fail,
outbox events wait in memory so MQTT still delivers them, and `seq` keeps counting from the last
mark that was read.

`seq` numbers are reserved in blocks (`meta.seq_reserved`): after a restart numbering resumes at
the mark, so it only ever grows, even if the last events before a crash were not written.

A mood lasts until the next mood change, a presence-off, or the end of the daemon run that
published it (a run is a `sessions` row: from open() to close(), or to the next run's start
after a crash); the mood of the run still going lasts until now.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as day_start
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

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
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._migrate(self._conn)
                self._load_counters(self._conn)
            except (sqlite3.Error, OSError) as exc:
                self._fail("open", exc)
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                self._load_counters_readonly()
                return
            now_s = self._clock()
            self._write("session", lambda c: self._start_session(c, now_s))
            self._prune(now_s)

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
            row = _event_row(event, self._clock)
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
            seq, text = int(event["seq"]), _dumps(event)
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

    # ----------------------------------------------------------------------------- queries

    def mood_durations(
        self, since_s: float | None = None, until_s: float | None = None, tz: Any = None
    ) -> dict[str, dict[str, float]]:
        """{day 'YYYY-MM-DD' (in tz, default local): {emotion: seconds}}."""
        with self._lock:
            assert self._conn is not None, "journal not open"
            until = self._clock() if until_s is None else until_s
            return mood_durations(self._conn, since_s, until, tz)

    def top_tracks(self, since_s: float | None = None, limit: int = 10) -> list[dict[str, Any]]:
        with self._lock:
            assert self._conn is not None, "journal not open"
            return top_tracks(self._conn, since_s, limit)

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
            raise sqlite3.DatabaseError(
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


def _event_row(event: Mapping[str, Any], clock: Callable[[], float]) -> tuple[Any, ...]:
    """(seq, type, t, at, at_s, emotion, confidence, present, path, category, data)."""
    kind = event["type"]
    if not isinstance(kind, str):
        raise TypeError("type must be a string")
    seq = None if event.get("seq") is None else int(event["seq"])
    t = None if event.get("t") is None else float(event["t"])
    at = event.get("at")
    try:
        at_s = datetime.fromisoformat(str(at)).timestamp()
    except ValueError:
        at_s = clock()
        at = datetime.fromtimestamp(at_s, UTC).isoformat().replace("+00:00", "Z")
    present = event.get("present")
    confidence = event.get("confidence")
    return (
        seq,
        kind,
        t,
        str(at),
        at_s,
        _text(event.get("emotion")),
        None if confidence is None else float(confidence),
        None if present is None else int(bool(present)),
        _text(event.get("path")),
        _text(event.get("category")),
        _dumps(event),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _dumps(event: Mapping[str, Any]) -> str:
    def plain(value: Any) -> Any:  # numpy scalars and the like
        return value.item() if hasattr(value, "item") else str(value)

    return json.dumps(dict(event), default=plain, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Queries and `moodpi history`


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Open for reading only; `immutable` when the WAL index cannot be made (read-only dir)."""
    uri = Path(path).resolve().as_uri()
    for options in ("mode=ro", "mode=ro&immutable=1"):
        conn = sqlite3.connect(f"{uri}?{options}", uri=True, timeout=5.0, check_same_thread=False)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if options.endswith("immutable=1"):
                raise
    raise AssertionError("unreachable")


def mood_durations(
    conn: sqlite3.Connection, since_s: float | None, until_s: float, tz: Any = None
) -> dict[str, dict[str, float]]:
    """{day 'YYYY-MM-DD' in tz (default local): {emotion: seconds}} within [since_s, until_s)."""
    sessions = conn.execute(
        "SELECT id, started_s, ended_s FROM sessions ORDER BY started_s"
    ).fetchall()
    session_end: dict[int, float] = {}
    for (sid, _, ended_s), later in zip(sessions, [*sessions[1:], None], strict=True):
        session_end[sid] = ended_s if ended_s is not None else (later[1] if later else until_s)
    totals: dict[str, dict[str, float]] = {}
    lower = float("-inf") if since_s is None else since_s
    mood: tuple[str, float, int | None] | None = None  # (emotion, since, session)

    def close(end_s: float) -> None:
        if mood is not None:
            _add_by_day(totals, mood[0], max(mood[1], lower), min(end_s, until_s), tz)

    rows = conn.execute(
        "SELECT at_s, type, emotion, present, session FROM events "
        "WHERE type IN ('mood', 'presence') ORDER BY at_s, id"
    )
    for at_s, kind, emotion, present, session in rows:
        if mood is not None and session != mood[2]:  # the run that published it has ended
            close(session_end.get(mood[2], at_s) if mood[2] is not None else at_s)
            mood = None
        if kind == "mood" and emotion:
            close(at_s)
            mood = (emotion, at_s, session)
        elif kind == "presence" and not present:
            close(at_s)
            mood = None
    if mood is not None:
        close(session_end.get(mood[2], until_s) if mood[2] is not None else until_s)
    return totals


def _add_by_day(
    totals: dict[str, dict[str, float]], emotion: str, start_s: float, end_s: float, tz: Any
) -> None:
    while start_s < end_s:
        moment = datetime.fromtimestamp(start_s, tz)  # tz None: naive local time, DST-aware
        midnight = datetime.combine(moment.date() + timedelta(days=1), day_start(), tzinfo=tz)
        stop_s = min(end_s, max(midnight.timestamp(), start_s + 1.0))
        day = totals.setdefault(moment.date().isoformat(), {})
        day[emotion] = day.get(emotion, 0.0) + stop_s - start_s
        start_s = stop_s


def top_tracks(
    conn: sqlite3.Connection, since_s: float | None, limit: int = 10
) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT path, MAX(category), SUM(type = 'track_started') AS plays,"
        " SUM(type = 'track_skipped') AS skips FROM events"
        " WHERE path IS NOT NULL AND type IN ('track_started', 'track_skipped') AND at_s >= ?"
        " GROUP BY path HAVING plays > 0 ORDER BY plays DESC, skips, path LIMIT ?",
        (float("-inf") if since_s is None else since_s, limit),
    )
    return [{"path": p, "category": c, "plays": n, "skips": k} for p, c, n, k in rows]


def parse_since(text: str | None, now_s: float) -> float | None:
    """None: everything kept; 'N': today and the N-1 days before; else an ISO date or datetime."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        days = int(text)
        if days < 1:
            raise ValueError("--since needs at least 1 day")
        first = datetime.fromtimestamp(now_s).date() - timedelta(days=days - 1)
        return datetime.combine(first, day_start()).timestamp()
    try:
        return datetime.fromisoformat(text).timestamp()  # a naive date or time is local time
    except ValueError:
        raise ValueError(
            f"--since expects an ISO date (2024-05-01) or a number of days, got {text!r}"
        ) from None


def build_report(conn: sqlite3.Connection, since_s: float | None, now_s: float) -> dict[str, Any]:
    if conn.execute("PRAGMA user_version").fetchone()[0] < 1:  # created, never written
        days: dict[str, dict[str, float]] = {}
        tracks: list[dict[str, Any]] = []
    else:
        days, tracks = mood_durations(conn, since_s, now_s), top_tracks(conn, since_s)
    totals: dict[str, float] = {}
    for moods in days.values():
        for emotion, seconds in moods.items():
            totals[emotion] = totals.get(emotion, 0.0) + seconds
    iso = lambda s: datetime.fromtimestamp(s).astimezone().isoformat(timespec="seconds")  # noqa: E731
    return {
        "since": None if since_s is None else iso(since_s),
        "until": iso(now_s),
        "days": {
            d: {e: round(s, 1) for e, s in sorted(m.items(), key=lambda i: -i[1])}
            for d, m in sorted(days.items())
        },
        "totals": {e: round(s, 1) for e, s in sorted(totals.items(), key=lambda i: -i[1])},
        "top_tracks": tracks,
    }


def format_report(report: dict[str, Any], journal: Path) -> str:
    since = report["since"] or "the start of the journal"
    lines = [f"Time in each mood since {since} (journal {journal}):"]
    if not report["days"]:
        lines.append("  no moods recorded")
    for day, moods in [*report["days"].items(), ("total", report["totals"])]:
        if moods:
            lines.append(
                f"  {day:<10}  " + " · ".join(f"{e} {_duration(s)}" for e, s in moods.items())
            )
    lines.append("Most played tracks:")
    if not report["top_tracks"]:
        lines.append("  none")
    for track in report["top_tracks"]:
        skips = f", skipped {track['skips']}" if track["skips"] else ""
        lines.append(f"  {track['plays']:>4} × {track['path']} ({track['category']}{skips})")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def cli_history(args: Any) -> int:
    """`moodpi history [--since ISO-date | N] [--json] [--config FILE]`."""
    from moodpi import config as config_mod

    config = config_mod.load(args.config)
    path = config.state_path / "journal.sqlite3"
    if not path.exists():
        note = "" if config.history.enabled else " (history is disabled in the config)"
        print(f"No history yet: the daemon keeps it in {path} once it has run{note}.")
        return 0
    now_s = time.time()
    try:
        since_s = parse_since(args.since, now_s)
    except ValueError as exc:
        print(f"moodpi history: {exc}", file=sys.stderr)
        return 64  # EX_USAGE
    try:
        conn = connect_readonly(path)
        try:
            report = build_report(conn, since_s, now_s)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        print(f"moodpi history: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps({"journal": str(path), **report}, indent=2)
        if args.json
        else format_report(report, path)
    )
    return 0
