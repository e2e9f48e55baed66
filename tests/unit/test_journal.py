"""The journal on a real SQLite file: schema, seq, outbox, retention, disk failures, threads."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodpi.link.journal import SEQ_BLOCK, connect_readonly
from tests.support.clock import FakeClock
from tests.support.journal import DAY_S, T0, event, iso, journal_at


def stored(path: Path, sql: str = "SELECT type, seq FROM events ORDER BY id") -> list[tuple]:
    conn = connect_readonly(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def integrity(path: Path) -> str:
    return stored(path, "PRAGMA integrity_check")[0][0]


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    with journal_at(tmp_path / "j.sqlite3") as journal:
        assert journal.healthy
    assert stored(tmp_path / "j.sqlite3", "PRAGMA user_version") == [(1,)]
    assert stored(tmp_path / "j.sqlite3", "PRAGMA journal_mode") == [("wal",)]


def test_newer_schema_is_refused_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    journal = journal_at(path)
    journal.open()
    assert not journal.healthy
    journal.record({"type": "mood", "seq": journal.next_seq(), "t": 0, "at": iso(T0)})
    journal.close()
    assert stored(path, "PRAGMA user_version") == [(99,)]


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


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` read-only for this process: chmod, or a read-only bind mount when root."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mount = ["mount", "--bind", str(folder), str(folder)]
    if subprocess.run(mount, capture_output=True, timeout=10).returncode != 0:
        pytest.skip("root without permission to mount: cannot make a read-only directory")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, timeout=10)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=10)


def test_read_only_directory_degrades_without_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "j.sqlite3"
    with journal_at(path) as journal:
        for i in range(3):
            journal.record(event(journal, "mood", T0 + i, emotion="happy"))
        last_seq = journal.next_seq()
    before = stored(path)
    with read_only(folder):
        with caplog.at_level(logging.ERROR, logger="moodpi.link.journal"):
            journal = journal_at(path)
            journal.open()
            seq = journal.next_seq()
            for i in range(5):
                journal.record(event(journal, "mood", T0 + 10 + i, emotion="sad"))
            journal.enqueue(
                {"type": "presence", "seq": seq, "t": 1.0, "at": iso(T0), "present": True}
            )
            assert not journal.healthy
            assert journal.write_errors >= 5
            assert seq > last_seq  # numbering resumes from the file even when it cannot be written
            assert [e["seq"] for e in journal.pending()] == [seq]  # MQTT still gets it, from memory
            journal.ack(seq)
            assert journal.pending() == []
            journal.close()
        assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1  # loud once
    assert stored(path) == before
    assert integrity(path) == "ok"


def test_disk_full_mid_run_then_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "j.sqlite3"
    with journal_at(path) as journal:
        journal.record(event(journal, "mood", T0, emotion="happy"))
        conn = journal._conn  # white box: SQLite's own size cap gives a real SQLITE_FULL
        assert conn is not None
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        with caplog.at_level(logging.ERROR, logger="moodpi.link.journal"):
            for i in range(5):
                journal.record(event(journal, "error", T0, message="x" * 20000, i=i))
                journal.enqueue(event(journal, "mood", T0, emotion="sad", padding="y" * 20000))
        assert not journal.healthy
        assert journal.write_errors >= 10
        assert len(caplog.records) == 1 and "full" in caplog.text
        assert len(journal.pending()) == 5  # held in memory meanwhile
        conn.execute("PRAGMA max_page_count = 1073741823")
        journal.record(event(journal, "mood", T0, emotion="neutral"))
        assert journal.healthy
    assert [t for t, _ in stored(path)] == ["mood", "mood"]
    assert integrity(path) == "ok"


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
