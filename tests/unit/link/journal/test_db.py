"""The journal's connection on a real SQLite file: schema and WAL, a newer schema refused, a corrupt
file set aside and rebuilt with its undelivered events salvaged, and a read-only or full disk
that fails writes once, loudly, without raising."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodpi.link.journal.store import Journal
from tests.support.journal import T0, corrupt, event, integrity, iso, journal_at, stored


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


def test_salvage_keeps_the_undelivered_events_of_a_corrupt_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path, retention_days=30, outbox_max=100) as journal:
        for seq in (1, 2, 3):
            journal.enqueue({"type": "mood", "seq": seq, "t": 0, "at": "2026-01-01T00:00:00Z"})
    conn = sqlite3.connect(path)  # pages of history after the outbox's one page
    with conn:
        conn.executemany(
            "INSERT INTO events (seq, type, at, at_s, data) VALUES (?, 'mood', '', 0, ?)",
            [(seq, "{}" * 100) for seq in range(4, 2000)],
        )
    conn.close()
    corrupt(path)
    with Journal(path, retention_days=30, outbox_max=100) as journal:
        assert journal.healthy
        assert [e["seq"] for e in journal.pending()] == [1, 2, 3]
    assert len(list(tmp_path.glob("j.sqlite3.corrupt-*"))) >= 1


def test_a_journal_that_is_no_database_at_all_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"this is not SQLite" * 100)
    with Journal(path, retention_days=30, outbox_max=100) as journal:
        assert journal.healthy
    assert next(tmp_path.glob("j.sqlite3.corrupt-*")).read_bytes() == b"this is not SQLite" * 100


@pytest.mark.parametrize("version", [99])
def test_a_newer_journal_is_left_alone_not_set_aside(tmp_path: Path, version: int) -> None:
    path = tmp_path / "j.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    with Journal(path, retention_days=30, outbox_max=100) as journal:
        assert not journal.healthy
    assert not list(tmp_path.glob("*.corrupt-*"))


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
        conn = journal._db.conn  # white box: SQLite's own size cap gives a real SQLITE_FULL
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
