"""Running the real daemon as a child process, with SDL's disk audio and a private state dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.pace import seconds

REPO = Path(__file__).resolve().parents[2]


def daemon_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOODPI__", "NOTIFY_SOCKET", "WATCHDOG_"))
    }
    env.update(
        SDL_AUDIODRIVER="disk",
        SDL_DISKAUDIOFILE=str(tmp_path / "audio.raw"),
        SDL_VIDEODRIVER="dummy",
        PYTHONUNBUFFERED="1",
        MOODPI__STATE_DIR=str(tmp_path / "state"),
    )
    env.update(extra)
    return env


def daemon_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "moodpi", *args]


def run_daemon(
    tmp_path: Path, *args: str, timeout_s: float = 120.0, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        daemon_command("run", *args),
        env=daemon_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=seconds(timeout_s),
        cwd=REPO,
    )
