"""Reading the status file back: running, stale (hung), stopped or unreadable, and the line of a
document another version of moodpi wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from moodpi.system.status import StatusFile
from moodpi.system.status_reader import read_status, summary
from tests.support.state import written_status


def test_status_file_staleness(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    StatusFile(path, clock=lambda: 1000.0).write(written_status())
    assert read_status(path, now_s=1004.0).state == "running"
    stale = read_status(path, now_s=1010.0)
    assert stale.state == "stale"  # our own pid: alive but not writing = hung
    assert stale.age_s == pytest.approx(10.0)
    assert stale.data is not None

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    payload = json.loads(path.read_text())
    payload["pid"] = int(dead.stdout)
    path.write_text(json.dumps(payload))
    assert read_status(path, now_s=1010.0).state == "stopped"  # the process is gone


def test_status_file_absent_or_garbage(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    assert read_status(path).state == "stopped"
    path.write_text("{not json")
    assert read_status(path).state == "unreadable"
    path.write_text("[1, 2]")
    assert read_status(path).state == "unreadable"


def test_status_line_from_a_document_of_another_version() -> None:
    assert summary({"mood": "sad", "presence": True, "fps": 10}) == "mood sad, 1 face, 10.0 fps"
    assert summary({"mood": 5, "fps": "?", "state": 3, "now_playing": 7}) == (
        "mood -, nobody, - fps, playing nothing"
    )
    assert summary({"now_playing": "Artist – Song", "audio": False}).endswith(
        "playing Artist – Song"
    )


def test_a_stopped_document_reads_as_stopped_with_its_reason_however_fresh(
    tmp_path: Path,
) -> None:
    path = tmp_path / "status.json"
    stop = {"reason": "camera gone for more than 60 s: no frames", "exit_status": 69}
    StatusFile(path, clock=lambda: 1000.0).write(written_status(state="stopped", stop=stop))
    reading = read_status(path, now_s=1000.5)  # written half a second ago, by a live pid (ours)
    assert reading.state == "stopped"
    assert reading.error == "camera gone for more than 60 s: no frames (exit 69)"
    for odd in ({"reason": 3}, None, "x"):  # another version's, or a broken one
        StatusFile(path).write(written_status(state="stopped", stop=odd))
        assert read_status(path).error == "it did not say why"
