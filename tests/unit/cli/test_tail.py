"""`moodpi tail`: each event once, a bar per emotion, lines on a pipe; Ctrl-C in a real process."""

from __future__ import annotations

import io
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moodpi.cli.tail import TailView, run_tail
from moodpi.system.status import RUN_DIR, StatusFile
from moodpi.system.status_reader import read_status
from moodpi.types import EMOTIONS
from tests.support.environ import child_env
from tests.support.state import read_back, state_dir_config, written_status


def test_tail_plain_lines_show_each_event_once(tmp_path: Path) -> None:
    view = TailView()
    first = view.plain_lines(read_back(tmp_path, written_status()))
    assert [line.split(" ", 2)[1] for line in first[:2]] == ["presence", "mood"]
    assert "mood happy 0.82" in first[2] and "happy=0.82" in first[2]

    events = written_status()["events"] + [
        {"type": "play", "seq": 3, "at": "2025-01-02T12:00:03Z", "title": "Forest"}
    ]
    second = view.plain_lines(read_back(tmp_path, written_status(events=events[1:])))
    assert len(second) == 1 and "play title=Forest" in second[0]  # seq 3 only; status unchanged

    restarted = view.plain_lines(
        read_back(tmp_path, written_status(started_at=time.time(), events=events[:1]))
    )
    assert any("presence" in line for line in restarted)  # a new daemon numbers afresh


def test_tail_screen_has_a_bar_per_emotion(tmp_path: Path) -> None:
    screen = TailView(width=80, height=24).screen(read_back(tmp_path, written_status()))
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
    config = state_dir_config(tmp_path)
    StatusFile(tmp_path / "state" / "status.json").write(written_status())
    # Started with SIGINT ignored, as some parents leave it (test runners, `trap '' INT`): the
    # child inherits that, and Ctrl-C must still stop it (it once hung here under xdist).
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodpi", "tail", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(drop=("RUNTIME_DIR",)),
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
