"""The daemon's lifecycle: the exit status follows the error's type; a run stops what it started;
a stalled camera stops the watchdog pings, so systemd restarts the daemon."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from moodpi import config as config_mod
from moodpi.app import EX_SOFTWARE, EX_UNAVAILABLE, Daemon, SetupError, ending
from moodpi.config import EX_CONFIG, ConfigError
from moodpi.perception.sources import CameraError, FrameSource
from moodpi.perception.sources.replay import ReplaySource
from moodpi.types import Frame


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
    end = ending(error)
    assert end.exit_status == status
    assert str(error) in end.reason  # the reason the last status gives names the error


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
    last = json.loads((tmp_path / "state" / "status.json").read_text())
    assert last["state"] == "stopped"  # the crash is the last word, not a stale "running"
    assert last["stop"] == {
        "reason": "crashed: ValueError: a bug in the fifth frame",
        "exit_status": 1,
    }


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
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert (
        status["diagnostics"]["frames"] == 0
    )  # the final status was still written, on the way out
    assert status["state"] == "stopped"
    assert status["stop"] == {"reason": "cannot open the camera: no camera here", "exit_status": 69}


class StallingReplay(ReplaySource):
    """A real replay whose driver hangs after `frames_before_stall` frames, ignoring timeouts."""

    def __init__(self, path: Path, frames_before_stall: int, release: threading.Event) -> None:
        super().__init__(path, fps=10.0, realtime=True)
        self._left = frames_before_stall
        self._release = release

    def read(self, timeout_s: float) -> Frame | None:
        if self._left <= 0:
            self._release.wait(30.0)  # a hung driver: no frame, no error, no timeout
            return None
        self._left -= 1
        return super().read(timeout_s)


@pytest.mark.slow
def test_watchdog_pings_stop_when_the_camera_stalls(
    tmp_path: Path, e2e_replay: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # ping every 0.2 s while healthy
    config = config_mod.from_dict(
        {"state_dir": str(tmp_path / "state"), "camera": {"timeout_s": 0.5}}
    )
    release = threading.Event()
    source = StallingReplay(e2e_replay / "frames", frames_before_stall=20, release=release)
    daemon = Daemon(config, audio=False, source_factory=lambda: source)
    runner = threading.Thread(target=daemon.run)
    runner.start()
    arrivals: list[tuple[float, str]] = []
    try:
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            try:
                for line in sock.recv(4096).decode().splitlines():
                    arrivals.append((time.monotonic(), line))
            except TimeoutError:
                pass
        window_end = time.monotonic()
    finally:
        daemon.stop_event.set()
        release.set()
        runner.join(timeout=10)
        sock.close()
    assert not runner.is_alive()
    pings = [t for t, line in arrivals if line == "WATCHDOG=1"]
    assert any(line == "READY=1" for _, line in arrivals)
    assert len(pings) >= 3, "no pings while frames flowed"
    # 20 frames at 10 fps stall after ~2 s; pings must stop within the 1 s grace after that and
    # stay stopped for the rest of the 8 s window.
    assert window_end - pings[-1] > 3.0, "watchdog kept pinging a stalled pipeline"
