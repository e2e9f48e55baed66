"""Issue 18, defect 1: seq must not restart when the journal is deleted or corrupt; every event
carries its epoch. Real SQLite files, the real Uplink and EventHub as the daemon wires them."""

from __future__ import annotations

import json
import queue
import sqlite3
from pathlib import Path

from moodpi import config as cfg
from moodpi.events import EventHub, MoodEvent
from moodpi.link.journal.identity import FILE_NAME
from moodpi.link.uplink import Uplink
from tests.support.journal import corrupt


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
    corrupt(journal)
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
