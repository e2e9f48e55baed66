"""`moodpi history`: time in each mood per day and the most played tracks, read back from a
journal the daemon wrote; `--since`, `--json`."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from moodpi.cli.history import (
    cli_history,
    connect_readonly,
    mood_durations,
    parse_since,
    top_tracks,
)
from moodpi.link.journal import Journal
from tests.support.clock import FakeClock
from tests.support.environ import drop_overrides
from tests.support.journal import DAY_S, T0, event, journal_at


def day(s: str) -> float:
    return datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()


def test_mood_durations_per_day_across_midnight(tmp_path: Path) -> None:
    path, clock = tmp_path / "j.sqlite3", FakeClock(day("2024-05-01T22:00"))
    with journal_at(path, clock) as run1:
        for kind, at, fields in [
            ("presence", "2024-05-01T22:00:00", {"present": True}),
            ("mood", "2024-05-01T22:00:05", {"emotion": "happy"}),
            ("mood", "2024-05-01T23:30:00", {"emotion": "sad"}),
            ("presence", "2024-05-02T00:30:00", {"present": False}),  # sad ends
            ("presence", "2024-05-02T01:00:00", {"present": True}),
            ("mood", "2024-05-02T01:00:10", {"emotion": "neutral"}),
        ]:
            run1.record(event(run1, kind, day(at), **fields))
        clock.now = day("2024-05-02T02:00")  # the daemon stops: neutral ends
    clock.now = day("2024-05-02T03:00")
    run2 = journal_at(path, clock)
    run2.open()
    run2.record(event(run2, "mood", day("2024-05-02T03:00:10"), emotion="angry"))
    clock.now = day("2024-05-02T04:00")  # run 2 is killed; run 3 starts: angry ends here
    with journal_at(path, clock) as run3:
        run3.record(event(run3, "mood", day("2024-05-02T04:00:20"), emotion="happy"))
        until = day("2024-05-02T04:10")  # run 3 is still going: its mood lasts until now
        durations = mood_durations(connect_readonly(path), None, until, tz=UTC)
        assert durations == {
            "2024-05-01": {"happy": 5395.0, "sad": 1800.0},
            "2024-05-02": {"sad": 1800.0, "neutral": 3590.0, "angry": 3590.0, "happy": 580.0},
        }
        since = mood_durations(connect_readonly(path), day("2024-05-02T00:15"), until, tz=UTC)
        assert since == {
            "2024-05-02": {"sad": 900.0, "neutral": 3590.0, "angry": 3590.0, "happy": 580.0}
        }
    run2.close()


def test_top_tracks(tmp_path: Path) -> None:
    plays = [
        ("track_started", "a.ogg"), ("track_started", "b.ogg"), ("track_ended", "b.ogg"),
        ("track_started", "a.ogg"), ("track_skipped", "a.ogg"), ("track_started", "c.ogg"),
        ("track_skipped", "c.ogg"), ("track_started", "b.ogg"),
    ]  # fmt: skip
    path = tmp_path / "j.sqlite3"
    with journal_at(path) as journal:
        for kind, track in plays:
            journal.record(event(journal, kind, T0, path=track, category="calming"))
        journal.record(
            event(journal, "track_started", T0 - DAY_S, path="old.ogg", category="upbeat")
        )
        # Most plays first; among equals, the less skipped.
        top = top_tracks(connect_readonly(path), None)
        assert [(t["path"], t["plays"], t["skips"]) for t in top] == [
            ("b.ogg", 2, 0), ("a.ogg", 2, 1), ("old.ogg", 1, 0), ("c.ogg", 1, 1),
        ]  # fmt: skip
        assert top[2]["category"] == "upbeat"
        assert [t["path"] for t in top_tracks(connect_readonly(path), T0 - 60, limit=2)] == [
            "b.ogg",
            "a.ogg",
        ]


def run_cli(monkeypatch: pytest.MonkeyPatch, state: Path, **options: Any) -> int:
    drop_overrides(monkeypatch)
    monkeypatch.setenv("MOODPI__STATE_DIR", str(state))
    return cli_history(
        argparse.Namespace(**{"config": None, "since": None, "json": False, **options})
    )


def test_cli_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    state = tmp_path / "state"
    assert run_cli(monkeypatch, state) == 0
    assert "No history yet" in capsys.readouterr().out
    state.mkdir()
    now = datetime.now(UTC).timestamp()
    with Journal(state / "journal.sqlite3", retention_days=30, outbox_max=100) as journal:
        journal.record(event(journal, "mood", now - 600, emotion="happy"))
        journal.record(event(journal, "mood", now - 300, emotion="sad"))
        journal.record(event(journal, "presence", now - 120, present=False))
        journal.record(
            event(journal, "track_started", now - 500, path="upbeat/a.ogg", category="upbeat")
        )
    assert run_cli(monkeypatch, state) == 0
    out = capsys.readouterr().out
    assert "happy 5m 00s" in out and "sad 3m 00s" in out and "1 × upbeat/a.ogg" in out
    assert run_cli(monkeypatch, state, since="1", json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"] == pytest.approx({"happy": 300.0, "sad": 180.0}, abs=0.2)
    assert report["top_tracks"][0]["path"] == "upbeat/a.ogg"
    assert run_cli(monkeypatch, state, since="last tuesday") == 64
    assert "--since" in capsys.readouterr().err


def test_parse_since() -> None:
    now = datetime(2024, 5, 10, 15, 30).timestamp()  # local time
    assert parse_since(None, now) is None
    assert parse_since("1", now) == datetime(2024, 5, 10).timestamp()
    assert parse_since("7", now) == datetime(2024, 5, 4).timestamp()
    assert parse_since("2024-05-01", now) == datetime(2024, 5, 1).timestamp()
    assert (
        parse_since("2024-05-01T12:00:00Z", now) == datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()
    )
    for bad in ("0", "yesterday", "-3"):
        with pytest.raises(ValueError):
            parse_since(bad, now)
