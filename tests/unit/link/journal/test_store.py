"""The journal on a real SQLite file: seq, events and their fields, the outbox, retention, two
threads at once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from moodpi.link.journal.store import SEQ_BLOCK
from tests.support.clock import FakeClock
from tests.support.journal import DAY_S, T0, event, integrity, iso, journal_at, stored


def test_seq_grows_across_reopen_and_crash(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with journal_at(path) as journal:
        first = [journal.next_seq() for _ in range(5)]
    with journal_at(path) as journal:
        second = [journal.next_seq() for _ in range(SEQ_BLOCK + 5)]  # crosses a reserved block
        crashed = journal_at(path)  # a new run while the old one never closed (killed)
        crashed.open()
        third = [crashed.next_seq() for _ in range(3)]
        crashed.close()
    seqs = first + second + third
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert first == [1, 2, 3, 4, 5]


def test_record_keeps_fields(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with journal_at(path) as journal:
        journal.record(event(journal, "mood", T0, emotion="sad", confidence=0.61))
        journal.record(event(journal, "presence", T0, present=False))
        journal.record(
            event(journal, "track_started", T0, path="calming/a.ogg", category="calming")
        )
        journal.record(event(journal, "error", T0, message="camera gone"))
    rows = stored(
        path, "SELECT type, emotion, confidence, present, path, category, data FROM events"
    )
    assert [r[:6] for r in rows] == [
        ("mood", "sad", 0.61, None, None, None),
        ("presence", None, None, 0, None, None),
        ("track_started", None, None, None, "calming/a.ogg", "calming"),
        ("error", None, None, None, None, None),
    ]
    assert json.loads(rows[3][6])["message"] == "camera gone"


def test_malformed_events_are_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with journal_at(tmp_path / "j.sqlite3") as journal:
        journal.record({"seq": 1})  # no type
        journal.record({"type": ["mood"], "seq": 2})
        journal.enqueue({"type": "mood"})  # no seq
        assert journal.pending() == []
        assert journal.healthy
    assert caplog.text.count("malformed event") == 3


def test_outbox_order_ack_bound_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with journal_at(path, outbox_max=5) as journal:
        for i in range(8):
            journal.enqueue(event(journal, "mood", T0 + i, emotion="happy"))
        assert [e["seq"] for e in journal.pending()] == [4, 5, 6, 7, 8]  # 1-3 dropped, oldest first
        assert journal.outbox_dropped == 3
        journal.ack(5)
        journal.ack(5)  # a duplicate PUBACK changes nothing
        assert [e["seq"] for e in journal.pending(limit=2)] == [4, 6]
        assert journal.pending()[0] == {
            "type": "mood",
            "seq": 4,
            "t": 0.0,
            "at": iso(T0 + 3),
            "emotion": "happy",
        }
    with journal_at(path, outbox_max=5) as journal:  # undelivered events survive a restart
        assert [e["seq"] for e in journal.pending()] == [4, 6, 7, 8]
        assert journal.outbox_dropped == 3
        journal.enqueue(event(journal, "presence", T0, present=True))
        journal.enqueue(event(journal, "presence", T0, present=False))
        assert [e["seq"] for e in journal.pending()][:2] == [6, 7]
        assert journal.stats() == {
            "healthy": True,
            "write_errors": 0,
            "outbox_pending": 5,
            "outbox_dropped": 4,
        }


def test_retention_prunes_on_open_and_hourly(tmp_path: Path) -> None:
    path, clock = tmp_path / "j.sqlite3", FakeClock(T0)
    with journal_at(path, clock) as journal:
        journal.record(event(journal, "mood", T0 - 40 * DAY_S, emotion="sad"))  # older than 30 days
        journal.record(event(journal, "mood", T0 - 1 * DAY_S, emotion="happy"))
        assert len(stored(path)) == 2  # pruned at most hourly: not yet
    with journal_at(path, clock) as journal:
        assert [t for t, _ in stored(path)] == ["mood"]
        journal.record(event(journal, "error", T0 - 31 * DAY_S))
        clock.now += 1800
        journal.record(event(journal, "error", T0))
        assert len(stored(path)) == 3
        clock.now += 1900  # over an hour since the last prune
        journal.record(event(journal, "error", T0))
        assert [t for t, _ in stored(path)] == ["mood", "error", "error"]


def test_two_threads_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    seqs: list[list[int]] = [[], []]
    with journal_at(path) as journal:

        def worker(k: int) -> None:
            for i in range(60):
                e = event(
                    journal, "mood" if k else "presence", T0 + i, emotion="happy", present=True
                )
                journal.record(e)
                journal.enqueue(e)
                seqs[k].append(e["seq"])
                if i % 3 == 0:
                    journal.ack(e["seq"])
                journal.pending(limit=5)

        threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert journal.healthy and journal.write_errors == 0
        pending = [e["seq"] for e in journal.pending(limit=1000)]
    everything = seqs[0] + seqs[1]
    assert len(set(everything)) == 120
    assert pending == sorted(s for s in everything if s not in seqs[0][::3] + seqs[1][::3])
    assert sorted(s for _, s in stored(path)) == sorted(everything)
    assert integrity(path) == "ok"
