"""The journal's file: opened read-only, checked, set aside when corrupt; events as rows.

A corrupt journal is set aside, not kept broken: renamed with a timestamp, rebuilt empty.

SQLite says "file is not a database" or "database disk image is malformed" (DatabaseError, not
the OperationalError of a full or read-only disk) when the file itself is damaged: a torn SD
card write, a truncated copy. History would otherwise stay off until someone deletes the file
by hand. What can still be read of the outbox (undelivered events) is salvaged first, so that
MQTT subscribers lose nothing the damaged file still holds; the seq floor is in identity.json.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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


class JournalTooNew(sqlite3.DatabaseError):
    """The journal was written by a newer moodpi: left alone, never set aside."""


def is_corruption(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.OperationalError | JournalTooNew
    )


def check_integrity(conn: sqlite3.Connection) -> None:
    """Raise DatabaseError unless SQLite's quick check (pages and indexes, no full scan) is ok."""
    rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    if [tuple(r) for r in rows] != [("ok",)]:
        raise sqlite3.DatabaseError(f"database disk image is malformed: {rows[0][0]}")


def set_aside(path: Path, exc: BaseException, now_s: float) -> list[tuple[int, str]]:
    """Rename the damaged journal (and its -wal, -shm) to `<name>.corrupt-<UTC time>`; return
    the (seq, event JSON) rows of its outbox that could still be read."""
    salvaged = _salvage_outbox(path)
    stamp = datetime.fromtimestamp(now_s, UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.replace(Path(f"{target}{suffix}"))
    log.error(
        "journal %s is corrupt (%s): set aside as %s and rebuilt empty; %d undelivered "
        "events salvaged",
        path,
        exc,
        target.name,
        len(salvaged),
    )
    return salvaged


def _salvage_outbox(path: Path) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    with contextlib.suppress(sqlite3.Error, OSError):
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            for seq, text in conn.execute("SELECT seq, event FROM outbox ORDER BY seq"):
                if isinstance(seq, int) and isinstance(text, str):
                    rows.append((seq, text))
        finally:
            conn.close()
    return rows


# ---------------------------------------------------------------------------------------------
# Rows


def event_row(event: Mapping[str, Any], clock: Callable[[], float]) -> tuple[Any, ...]:
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
        dumps(event),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def dumps(event: Mapping[str, Any]) -> str:
    def plain(value: Any) -> Any:  # numpy scalars and the like
        return value.item() if hasattr(value, "item") else str(value)

    return json.dumps(dict(event), default=plain, separators=(",", ":"))
