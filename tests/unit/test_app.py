"""The daemon's lifecycle: the exit status follows the error's type; a run stops what it started."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodpi import config as config_mod
from moodpi.app import EX_SOFTWARE, EX_UNAVAILABLE, Daemon, SetupError, exit_status
from moodpi.config import EX_CONFIG, ConfigError
from moodpi.perception.sources import CameraError, FrameSource


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("camera.source", "unknown camera source"), EX_CONFIG),
        (SetupError("model file not found: x.tflite"), EX_CONFIG),
        (CameraError("cannot open V4L2 device 0"), EX_UNAVAILABLE),
        (ValueError("a bug"), EX_SOFTWARE),
        (FileNotFoundError("a bug too"), EX_SOFTWARE),
        (RuntimeError("anything else"), EX_SOFTWARE),
    ],
)
def test_exit_status_follows_the_type_of_the_error(error: Exception, status: int) -> None:
    assert exit_status(error) == status


def _daemon(tmp_path: Path, replay: Path, **kwargs: object) -> Daemon:
    config = config_mod.from_dict(
        {
            "state_dir": str(tmp_path / "state"),
            "camera": {"source": f"replay:{replay / 'frames'}"},
            "history": {"enabled": False},
        }
    )
    return Daemon(config, audio=False, **kwargs)  # type: ignore[arg-type]


def test_a_value_error_during_the_run_exits_1_so_systemd_restarts(
    tmp_path: Path, e2e_replay: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It used to exit 78 (config error), which the unit never restarts."""
    daemon = _daemon(tmp_path, e2e_replay)
    calls = []

    def broken_update(observation: object) -> list[object]:
        calls.append(observation)
        if len(calls) == 5:
            raise ValueError("a bug in the fifth frame")
        return []

    monkeypatch.setattr(daemon.mood, "update", broken_update)
    assert daemon.run() == EX_SOFTWARE
    assert len(calls) == 5
    assert daemon.stop_event.is_set()


def test_a_missing_model_is_a_setup_error(tmp_path: Path, e2e_replay: Path) -> None:
    daemon = _daemon(tmp_path, e2e_replay)
    daemon.config = config_mod.from_dict(
        {**config_mod.as_dict(daemon.config), "emotion": {"model": str(tmp_path / "no.tflite")}}
    )
    assert daemon.run() == EX_CONFIG


def test_a_camera_that_cannot_open_exits_69_and_stops_what_started(
    tmp_path: Path, e2e_replay: Path
) -> None:
    def no_camera() -> FrameSource:
        raise CameraError("no camera here")

    daemon = _daemon(tmp_path, e2e_replay, source_factory=no_camera)
    assert daemon.run() == EX_UNAVAILABLE
    assert daemon.stop_event.is_set()
    status = (tmp_path / "state" / "status.json").read_text()
    assert '"frames":0' in status  # the final status was still written, on the way out
