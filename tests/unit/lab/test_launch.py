"""lab/launch.py: the one command line and environment every launcher of the daemon uses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from moodpi.lab import launch

SERVICE = {
    "NOTIFY_SOCKET": "/run/systemd/notify",
    "WATCHDOG_USEC": "30000000",
    "WATCHDOG_PID": "1",
    "RUNTIME_DIRECTORY": "/run/moodpi",
    "STATE_DIRECTORY": "/var/lib/moodpi",
}


def test_the_command_runs_this_interpreter_on_the_package() -> None:
    assert launch.daemon_command("status", "--json") == [
        sys.executable, "-m", "moodpi", "status", "--json",
    ]  # fmt: skip
    assert launch.run_command()[1:] == ["-m", "moodpi", "run"]
    assert launch.run_command(config=Path("/c.toml"), events_jsonl="-")[4:] == [
        "--events-jsonl", "-", "--config", "/c.toml",
    ]  # fmt: skip


def test_a_child_is_not_the_service_and_has_no_window_nor_sound_card(tmp_path: Path) -> None:
    environ = {**SERVICE, "MOODPI__MQTT__HOST": "broker", "HOME": "/home/me"}
    env = launch.daemon_env(audio_file=tmp_path / "a.raw", environ=environ)
    assert not set(SERVICE) & set(env)
    assert "MOODPI__MQTT__HOST" not in env and env["HOME"] == "/home/me"
    assert env["SDL_AUDIODRIVER"] == "disk" and env["SDL_DISKAUDIOFILE"] == str(tmp_path / "a.raw")
    assert env["SDL_VIDEODRIVER"] == "dummy" and env["PYTHONUNBUFFERED"] == "1"


def test_settings_kept_on_request_and_the_callers_dirs_and_extras_last(tmp_path: Path) -> None:
    environ = {"MOODPI__EMOTION__MODEL": "m.tflite", "SDL_AUDIODRIVER": "alsa"}
    env = launch.daemon_env(
        audio_file=None,
        state_dir=tmp_path / "state",
        runtime_dir=tmp_path / "run",
        keep_settings=True,
        environ=environ,
        extra={"NOTIFY_SOCKET": "/tmp/n.sock", "MOODPI__STATE_DIR": "/elsewhere"},
    )
    assert env["MOODPI__EMOTION__MODEL"] == "m.tflite"
    assert env["SDL_AUDIODRIVER"] == "alsa" and "SDL_DISKAUDIOFILE" not in env  # the sound card
    assert env["RUNTIME_DIRECTORY"] == str(tmp_path / "run")
    assert env["MOODPI__STATE_DIR"] == "/elsewhere" and env["NOTIFY_SOCKET"] == "/tmp/n.sock"


def test_the_child_imports_the_package_this_process_runs() -> None:
    root = str(Path(launch.__file__).resolve().parents[2])
    env = launch.daemon_env(environ={"PYTHONPATH": f"/x{os.pathsep}{root}"})
    import site

    if root in site.getsitepackages():
        assert env["PYTHONPATH"] == f"/x{os.pathsep}{root}"  # installed: on the path anyway
    else:
        assert env["PYTHONPATH"].split(os.pathsep) == [root, "/x"]  # a checkout: first, once


def test_the_mood_bench_command_line() -> None:
    command = launch.run_command(
        source="replay:/r/frames",
        fps=10.0,
        events_jsonl=Path("/tmp/e.jsonl"),
        no_audio=True,
        config="/etc/moodpi.toml",
    )
    assert command[1:] == [
        "-m", "moodpi", "run", "--source", "replay:/r/frames", "--fps", "10",
        "--events-jsonl", "/tmp/e.jsonl", "--no-audio", "--config", "/etc/moodpi.toml",
    ]  # fmt: skip
