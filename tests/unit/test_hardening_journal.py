"""Issue 18, defect 1: seq must not restart when the journal is deleted or corrupt, and a corrupt
journal is set aside and rebuilt (history back on), its undelivered events salvaged.

Real SQLite files, the real Uplink and EventHub as the daemon wires them.
"""

from __future__ import annotations

import json
import queue
import sqlite3
from pathlib import Path

import pytest

from moodpi import config as cfg
from moodpi.events import EventHub, MoodEvent
from moodpi.link.journal.identity import FILE_NAME, Identity
from moodpi.link.journal.store import Journal
from moodpi.link.uplink import Uplink


def _uplink(state: Path) -> tuple[Uplink, EventHub]:
    config = cfg.from_dict({"state_dir": str(state)})
    uplink = Uplink(config, queue.Queue())
    hub = EventHub(next_seq=uplink.next_seq, epoch=lambda: uplink.epoch)
    uplink.start()
    uplink.attach(hub)
    return uplink, hub


def _run(state: Path, n: int) -> list[tuple[str, int]]:
    """One daemon run that emits n events: their (epoch, seq)."""
    uplink, hub = _uplink(state)
    try:
        events = [hub.emit(MoodEvent("happy", 0.9), float(i)) for i in range(n)]
        assert uplink.journal is not None and uplink.journal.healthy
    finally:
        uplink.stop()
    return [(e.epoch, e.seq) for e in events]


def _corrupt(path: Path) -> None:
    """Garbage over the middle of the file, where the events table and its index live."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 3)
        f.write(b"\xa5" * (size // 3))  # no valid page type: SQLite's check finds it


def test_deleting_the_journal_does_not_take_seq_back(tmp_path: Path) -> None:
    first = _run(tmp_path, 3)
    for part in tmp_path.glob("journal.sqlite3*"):
        part.unlink()
    second = _run(tmp_path, 3)
    assert second[0][1] > first[-1][1], (first, second)
    assert {epoch for epoch, _ in first + second} == {first[0][0]}  # numbering went on: same epoch


def test_a_corrupt_journal_is_set_aside_rebuilt_and_seq_goes_on(tmp_path: Path) -> None:
    first = _run(tmp_path, 200)
    journal = tmp_path / "journal.sqlite3"
    _corrupt(journal)
    second = _run(tmp_path, 2)  # asserts the journal is healthy: history is back on
    assert second[0][1] > first[-1][1]
    aside = list(tmp_path.glob("journal.sqlite3.corrupt-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))], aside
    conn = sqlite3.connect(journal)
    assert [r[0] for r in conn.execute("SELECT seq FROM events")] == [s for _, s in second]
    conn.close()


def test_losing_both_journal_and_identity_starts_a_new_epoch(tmp_path: Path) -> None:
    first = _run(tmp_path, 2)
    for part in tmp_path.iterdir():
        part.unlink()
    second = _run(tmp_path, 2)
    assert second[0][0] != first[0][0]  # (epoch, seq) never repeats, though seq starts again
    assert set(first).isdisjoint(second)


def test_a_corrupt_identity_file_starts_a_new_epoch_above_the_journal(tmp_path: Path) -> None:
    first = _run(tmp_path, 2)
    (tmp_path / FILE_NAME).write_text('{"epoch": 5}')
    second = _run(tmp_path, 2)
    assert second[0][0] != first[0][0] and second[0][1] > first[-1][1]


def test_an_unwritable_identity_changes_epoch_before_handing_out_a_number(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    identity = Identity(blocker / FILE_NAME)  # its folder cannot exist: every write fails
    identity.open(floor=7)
    epoch = identity.epoch
    assert identity.next_seq() == 7
    assert identity.epoch != epoch  # the next start could not know how far this one counted


def test_identity_resumes_above_its_mark_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    crashed = Identity(path, block=4)
    crashed.open()
    seqs = [crashed.next_seq() for _ in range(6)]  # killed here: nothing closed
    again = Identity(path, block=4)
    again.open()
    assert again.epoch == crashed.epoch and again.next_seq() > max(seqs)
    assert json.loads(path.read_text())["epoch"] == again.epoch


def test_events_carry_their_epoch_in_every_sink(tmp_path: Path) -> None:
    uplink, hub = _uplink(tmp_path)
    try:
        event = hub.emit(MoodEvent("sad", 0.5), 0.0)
        assert event.as_dict()["epoch"] == uplink.epoch and len(uplink.epoch) == 12
    finally:
        uplink.stop()
    conn = sqlite3.connect(tmp_path / "journal.sqlite3")
    (data,) = conn.execute("SELECT data FROM events").fetchone()
    conn.close()
    assert json.loads(data)["epoch"] == uplink.epoch


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
    _corrupt(path)
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
