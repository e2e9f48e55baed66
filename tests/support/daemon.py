"""Running the real daemon as a child process, with SDL's disk audio and a private state dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

from moodpi.lab import launch
from tests.support.pace import seconds

REPO = Path(__file__).resolve().parents[2]


def daemon_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No MOODPI__ settings but `extra`'s, the disk driver writing to tmp_path/audio.raw, the
    journal in tmp_path/state (lab/launch.py)."""
    return launch.daemon_env(
        audio_file=tmp_path / "audio.raw", state_dir=tmp_path / "state", extra=extra
    )


def daemon_command(*args: str) -> list[str]:
    return launch.daemon_command(*args)


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
