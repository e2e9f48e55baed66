"""`moodpi status` and `moodpi tail`: the status file rendered, in-process and as real processes."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from moodpi.cli.status import EX_NOT_RUNNING, TailView, render_status, run_tail
from moodpi.system.status import RUN_DIR, StatusFile
from moodpi.system.status_reader import read_status
from moodpi.types import EMOTIONS
from tests.support.daemon import REPO
from tests.support.state import written_status


def test_render_status_tolerates_odd_fields(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    odd = {"mood": 5, "probs": {"happy": "x", "calm": 0.5}, "events": [3, {"seq": "a"}], "fps": "?"}
    StatusFile(path).write(odd)
    text = render_status(read_status(path))
    assert "running" in text and "calm" in text


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOODPI__", "RUNTIME_DIR"))}
    env["PYTHONPATH"] = str(REPO / "device")
    return env


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    return path


@pytest.mark.skipif(RUN_DIR.is_dir(), reason="a moodpi service runs on this machine")
def test_moodpi_status_json(tmp_path: Path) -> None:
    config = _config(tmp_path)
    command = [sys.executable, "-m", "moodpi", "status", "--json", "--config", str(config)]
    stopped = subprocess.run(command, capture_output=True, text=True, env=_cli_env(), timeout=60)
    assert stopped.returncode == EX_NOT_RUNNING
    assert json.loads(stopped.stdout)["state"] == "stopped"

    StatusFile(tmp_path / "state" / "status.json").write(written_status())
    result = subprocess.run(command, capture_output=True, text=True, env=_cli_env(), timeout=60)
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
        env=_cli_env(),
        timeout=60,
    )
    assert human.returncode == 0
    assert "mood:           happy (0.82)" in human.stdout
    assert "presence:       1 face" in human.stdout
    assert "happy" in human.stdout and "█" in human.stdout


def _reading(tmp_path: Path, status: dict[str, Any]) -> Any:
    path = tmp_path / "status.json"
    StatusFile(path).write(status)
    return read_status(path)


def test_tail_plain_lines_show_each_event_once(tmp_path: Path) -> None:
    view = TailView()
    first = view.plain_lines(_reading(tmp_path, written_status()))
    assert [line.split(" ", 2)[1] for line in first[:2]] == ["presence", "mood"]
    assert "mood happy 0.82" in first[2] and "happy=0.82" in first[2]

    events = written_status()["events"] + [
        {"type": "play", "seq": 3, "at": "2025-01-02T12:00:03Z", "title": "Forest"}
    ]
    second = view.plain_lines(_reading(tmp_path, written_status(events=events[1:])))
    assert len(second) == 1 and "play title=Forest" in second[0]  # seq 3 only; status unchanged

    restarted = view.plain_lines(
        _reading(tmp_path, written_status(started_at=time.time(), events=events[:1]))
    )
    assert any("presence" in line for line in restarted)  # a new daemon numbers afresh


def test_tail_screen_has_a_bar_per_emotion(tmp_path: Path) -> None:
    screen = TailView(width=80, height=24).screen(_reading(tmp_path, written_status()))
    bars = {
        line[1:].split()[0]: line
        for line in screen
        if line[1:].split()[:1] and line[1:].split()[0] in EMOTIONS
    }
    assert set(bars) == set(EMOTIONS)
    assert bars["happy"].startswith("▶") and bars["happy"].count("█") > bars["sad"].count("█")
    assert all(len(line) <= 80 for line in screen)
    waiting = TailView().screen(read_status(tmp_path / "none.json"))
    assert "waiting for the daemon" in waiting[0]


def test_run_tail_on_a_pipe_prints_lines(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    StatusFile(path).write(written_status())
    out = io.StringIO()
    assert run_tail(path, interval_s=0.01, out=out, tty=False, max_polls=3) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # two events and one status line, each once
    assert "\x1b" not in out.getvalue()
    screen = io.StringIO()
    run_tail(path, interval_s=0.01, out=screen, tty=True, max_polls=1)
    assert "\x1b[H" in screen.getvalue() and "happy" in screen.getvalue()


@pytest.mark.skipif(RUN_DIR.is_dir(), reason="a moodpi service runs on this machine")
def test_moodpi_tail_process_exits_on_ctrl_c(tmp_path: Path) -> None:
    config = _config(tmp_path)
    StatusFile(tmp_path / "state" / "status.json").write(written_status())
    # Started with SIGINT ignored, as some parents leave it (test runners, `trap '' INT`): the
    # child inherits that, and Ctrl-C must still stop it (it once hung here under xdist).
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodpi", "tail", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "moodpi tail printed nothing in 30 s"
        first = proc.stdout.readline()
        assert "presence" in first
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)  # read on while it stops: a full pipe would block its exit
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_render_status_summarises_mqtt_and_frames(tmp_path: Path) -> None:
    mqtt = {"enabled": True, "connected": False, "last_error": "refused", "outbox_backlog": 4}
    diagnostics = {"frames": 120, "frames_dropped": 2, "frames_bad": 1}
    text = render_status(
        _reading(tmp_path, written_status(mqtt=mqtt, diagnostics=diagnostics, policy="uplift"))
    )
    assert "mqtt:           disconnected: refused (4 waiting in the outbox)" in text
    assert "frames:         120 (2 dropped, 1 bad)" in text
    assert "policy:         uplift" in text
    off = render_status(_reading(tmp_path, written_status(mqtt={"enabled": False})))
    assert "mqtt:           off" in off


def test_render_status_says_whether_the_camera_is_in_use_and_how_far_it_sees(
    tmp_path: Path,
) -> None:
    sight = {"smallest_face_px": 25, "frame_width_px": 640, "farthest_m": 2.96, "window_s": 600}
    quiet = {"schedule": ["22:00-07:00"], "enabled": True, "active": False}
    led = "/sys/class/leds/ACT"
    watching = written_status(camera_in_use=True, led=led, sight=sight, quiet_hours=quiet)
    text = render_status(_reading(tmp_path, watching))
    assert "camera:         in use" in text
    assert "status led:     /sys/class/leds/ACT" in text
    assert "sees:           faces to about 3.0 m (smallest 25 px of 640, last 10 min)" in text
    quiet_now = written_status(
        camera_in_use=False, sight=None, quiet_hours={**quiet, "active": True}
    )
    text = render_status(_reading(tmp_path, quiet_now))
    assert "camera:         released (quiet hours 22:00-07:00)" in text
    assert "sees:           no face found lately" in text
    off = render_status(_reading(tmp_path, written_status(camera_in_use=False, detection=False)))
    assert "camera:         released (detection off)" in off
    older = {key: value for key, value in written_status().items() if key != "camera_in_use"}
    assert "camera:         -" in render_status(_reading(tmp_path, older))  # older daemon
