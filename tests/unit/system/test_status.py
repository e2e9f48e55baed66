"""The status file as the daemon writes it: the document from the Snapshot, written atomically,
where it lives, and systemd's one-line STATUS= summary (the same line read back from the file)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from moodpi.state import Snapshot, Stop
from moodpi.system.status import RUN_DIR, StatusFile, status_document, status_line, status_path
from moodpi.system.status_reader import read_status, summary
from moodpi.types import EMOTIONS
from tests.support.state import NO_MUSIC, PLAYING, STARTED_AT, make_snapshot, written_status


def test_status_file_round_trip(tmp_path: Path) -> None:
    status_file = StatusFile(tmp_path / "run" / "status.json")
    counts = np.array([1, 2], np.int64)
    assert status_file.write(written_status(fps=np.float32(9.75), note=float("nan"), counts=counts))
    assert (tmp_path / "run" / "status.json").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["status.json"]  # no temp left
    reading = read_status(status_file.path)
    assert reading.state == "running"
    assert reading.age_s is not None and 0 <= reading.age_s < 5
    data = reading.data
    assert data is not None
    assert data["pid"] == os.getpid()
    assert data["mood"] == {
        "emotion": "happy",
        "confidence": 0.82,
        "since": "2025-01-02T12:00:02.000Z",
    }
    assert list(data["probs"]) == list(EMOTIONS)
    assert data["probs"]["happy"] == pytest.approx(0.82)
    assert data["fps"] == 9.75
    assert data["note"] is None  # NaN is not JSON
    assert data["counts"] == [1, 2]
    assert data["uptime_s"] == pytest.approx(time.time() - STARTED_AT, abs=2)
    assert [e["seq"] for e in data["events"]] == [1, 2]
    assert data["diagnostics"]["frames_dropped"] == 3
    assert data["now_playing"] == {
        "title": "Forest",
        "category": "calming",
        "path": "/m/calming/forest.ogg",
    }


def test_status_write_failure_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    status_file = StatusFile(blocker / "status.json")  # parent is a file: cannot mkdir
    assert not status_file.write(written_status())
    assert not status_file.write({"bad": object()})
    status_file.remove()  # nothing there: fine


def test_status_path_prefers_the_runtime_directory(tmp_path: Path) -> None:
    assert status_path(tmp_path, {"RUNTIME_DIRECTORY": "/run/moodpi:/run/x"}) == Path(
        "/run/moodpi/status.json"
    )
    if not RUN_DIR.is_dir():
        assert status_path(tmp_path, {}) == tmp_path / "status.json"


def test_status_line_for_systemd() -> None:
    playing = "mood happy 0.82, 1 face, 9.8 fps, playing Forest [calming]"
    lines = [
        (make_snapshot(), playing),
        (
            make_snapshot(music=replace(PLAYING, audio=False)),
            f"{playing} (silent: no audio device)",
        ),
        (make_snapshot(music=replace(PLAYING, audio=None)), playing),  # --no-audio
        (
            make_snapshot(mood=None, presence=False, music=NO_MUSIC, run_state="degraded"),
            "degraded, mood -, nobody, 9.8 fps",
        ),
    ]
    for snapshot, line in lines:
        assert status_line(snapshot) == line
        # `moodpi tail` reads the same line back from the file
        assert summary(status_document(snapshot)) == line


def test_presence_without_a_face_in_view_says_so() -> None:
    for faces, line in (
        (0, "mood happy 0.82, present, no face in view"),
        (3, "mood happy 0.82, 3 faces"),
    ):
        assert status_line(make_snapshot(faces=faces)).startswith(line)
        assert summary(written_status(faces=faces)).startswith(line)


def test_the_last_document_of_a_run_says_stopped_and_why(tmp_path: Path) -> None:
    status_file = StatusFile(tmp_path / "status.json")
    assert status_document(make_snapshot())["stop"] is None  # running: the key is there, empty
    status_file.write_last(make_snapshot, Stop("received SIGTERM", 0), STARTED_AT)
    data = json.loads(status_file.path.read_text())
    assert data["state"] == "stopped"
    assert data["stop"] == {"reason": "received SIGTERM", "exit_status": 0}
    assert data["mood"]["emotion"] == "happy"  # the rest is what it last knew

    def broken() -> Snapshot:
        raise RuntimeError("the state itself is broken")

    status_file.write_last(broken, Stop("crashed: RuntimeError: x", 1), STARTED_AT)
    data = json.loads(status_file.path.read_text())
    assert data["state"] == "stopped" and data["stop"]["exit_status"] == 1
    assert data["started_at"] == round(STARTED_AT, 3) and data["pid"] == os.getpid()
