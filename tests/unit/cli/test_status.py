"""`moodpi status`: the status file rendered, in-process and as a real process; odd fields and
older documents shown as '-', the music library's analysis progress in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moodpi.cli.status import EX_NOT_RUNNING, render_status
from moodpi.system.status import RUN_DIR, StatusFile
from moodpi.system.status_reader import read_status
from tests.support.environ import child_env
from tests.support.state import read_back, state_dir_config, written_status

ENV = child_env(drop=("RUNTIME_DIR",))  # a child `moodpi status`: this checkout, no runtime dir


def test_render_status_tolerates_odd_fields(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    odd = {"mood": 5, "probs": {"happy": "x", "calm": 0.5}, "events": [3, {"seq": "a"}], "fps": "?"}
    StatusFile(path).write(odd)
    text = render_status(read_status(path))
    assert "running" in text and "calm" in text


@pytest.mark.skipif(RUN_DIR.is_dir(), reason="a moodpi service runs on this machine")
def test_moodpi_status_json(tmp_path: Path) -> None:
    config = state_dir_config(tmp_path)
    command = [sys.executable, "-m", "moodpi", "status", "--json", "--config", str(config)]
    stopped = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=60)
    assert stopped.returncode == EX_NOT_RUNNING
    assert json.loads(stopped.stdout)["state"] == "stopped"

    StatusFile(tmp_path / "state" / "status.json").write(written_status())
    result = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["state"] == "running"
    assert report["status"]["mood"]["emotion"] == "happy"
    assert report["status"]["now_playing"]["title"] == "Forest"

    # written again: a status older than 5 s reads as stale, and starting Python can take
    # that long on a slow machine (under emulation it takes 10-20 s)
    StatusFile(tmp_path / "state" / "status.json").write(written_status())
    human = subprocess.run(
        [*command[:-3], "--config", str(config)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert human.returncode == 0
    assert "mood:           happy (0.82)" in human.stdout
    assert "presence:       1 face" in human.stdout
    assert "happy" in human.stdout and "█" in human.stdout


def test_render_status_summarises_mqtt_and_frames(tmp_path: Path) -> None:
    mqtt = {"enabled": True, "connected": False, "last_error": "refused", "outbox_backlog": 4}
    diagnostics = {"frames": 120, "frames_dropped": 2, "frames_bad": 1}
    text = render_status(
        read_back(tmp_path, written_status(mqtt=mqtt, diagnostics=diagnostics, policy="uplift"))
    )
    assert "mqtt:           disconnected: refused (4 waiting in the outbox)" in text
    assert "frames:         120 (2 dropped, 1 bad)" in text
    assert "policy:         uplift" in text
    off = render_status(read_back(tmp_path, written_status(mqtt={"enabled": False})))
    assert "mqtt:           off" in off


def test_render_status_says_whether_the_camera_is_in_use_and_how_far_it_sees(
    tmp_path: Path,
) -> None:
    sight = {"smallest_face_px": 25, "frame_width_px": 640, "farthest_m": 2.96, "window_s": 600}
    quiet = {"schedule": ["22:00-07:00"], "enabled": True, "active": False}
    led = "/sys/class/leds/ACT"
    watching = written_status(camera_in_use=True, led=led, sight=sight, quiet_hours=quiet)
    text = render_status(read_back(tmp_path, watching))
    assert "camera:         in use" in text
    assert "status led:     /sys/class/leds/ACT" in text
    assert "sees:           faces to about 3.0 m (smallest 25 px of 640, last 10 min)" in text
    quiet_now = written_status(
        camera_in_use=False, sight=None, quiet_hours={**quiet, "active": True}
    )
    text = render_status(read_back(tmp_path, quiet_now))
    assert "camera:         released (quiet hours 22:00-07:00)" in text
    assert "sees:           no face found lately" in text
    off = render_status(read_back(tmp_path, written_status(camera_in_use=False, detection=False)))
    assert "camera:         released (detection off)" in off
    older = {key: value for key, value in written_status().items() if key != "camera_in_use"}
    assert "camera:         -" in render_status(read_back(tmp_path, older))  # older daemon


def test_status_shows_analysis_progress() -> None:
    from moodpi.cli.status import library_summary

    running = {"tracks": 5000, "analysed": 812, "failed": 3, "running": True, "eta_s": 860.0}
    assert library_summary(running) == (
        "812 of 5,000 tracks placed on the valence-arousal plane"
        " (3 undecodable; running, ETA 14m 20s)"
    )
    assert library_summary({"tracks": 10, "analysed": 10, "failed": 0, "running": False}) == (
        "10 of 10 tracks placed on the valence-arousal plane"
    )
    assert library_summary({"tracks": "x"}) == "-"
    gone = {"tracks": 10, "analysed": 10, "problem": "music.root /m does not exist"}
    assert library_summary(gone) == "PROBLEM: music.root /m does not exist"
    bad = {"tracks": 10, "analysed": 9, "failed": 1, "running": False,
           "unreadable": {"m4p": 2, "wma": 1}, "unreadable_files": {"m4p": ["/a.m4p"]}}  # fmt: skip
    assert library_summary(bad) == (
        "9 of 10 tracks placed on the valence-arousal plane"
        " (1 undecodable; unreadable: m4p 2 (a.m4p), wma 1)"
    )


def test_status_after_the_daemon_exited_says_stopped_and_why(tmp_path: Path) -> None:
    stop = {"reason": "received SIGTERM", "exit_status": 0}
    text = render_status(read_back(tmp_path, written_status(state="stopped", stop=stop)))
    head = text.splitlines()[0]
    assert head.startswith("moodpi: stopped ") and head.endswith("ago: received SIGTERM (exit 0)")
    assert "state:          stopped\n" in text
    assert "running" not in text and "journalctl" not in text  # a clean stop: no logs to read
    crash = {"reason": "crashed: TypeError: x", "exit_status": 1}
    text = render_status(read_back(tmp_path, written_status(state="stopped", stop=crash)))
    assert "ago: crashed: TypeError: x (exit 1)\n  see: systemctl status moodpi; journalctl" in text

    # Killed without a word (kill -9, out of memory): its last document still says running.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    path = tmp_path / "status.json"
    StatusFile(path, clock=lambda: time.time() - 60).write(written_status())
    payload = json.loads(path.read_text())
    path.write_text(json.dumps({**payload, "pid": int(dead.stdout)}))
    text = render_status(read_status(path))
    assert f"process {int(dead.stdout)} ended without saying why (killed?)" in text.splitlines()[0]
    assert "state:          stopped (last written: running)" in text
