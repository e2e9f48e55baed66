"""Reading the journal: time in each mood per day, the most played tracks, and `moodpi history`.

A mood lasts until the next mood change, a presence-off, or the end of the daemon run that
published it (a run is a `sessions` row: from open() to close(), or to the next run's start
after a crash); the mood of the run still going lasts until now.

Everything here opens the journal read-only (or takes a connection), so `moodpi history` works
beside the running daemon and on a journal in a read-only directory.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from datetime import time as day_start
from pathlib import Path
from typing import Any

from moodpi.link.journal.file import connect_readonly


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

    def iso(s: float) -> str:
        return datetime.fromtimestamp(s).astimezone().isoformat(timespec="seconds")

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
