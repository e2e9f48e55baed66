"""Shared fixtures: generated replays and music, and a runner for the real daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE_FACES = REPO / "tests" / "fixtures" / "faces"
SHARED_FER = REPO.parent / "shared" / "data" / "fer2013"

# pygame/SDL must never open a window or a real sound card in tests.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

pytest_plugins = ["tests.broker"]  # a real mosquitto per test: mqtt_broker, broker_factory, ...

# (emotion or None, seconds) for the end-to-end replay: two moods with an empty room between.
E2E_SEGMENTS: list[tuple[str | None, float]] = [("happy", 6.0), (None, 4.0), ("surprise", 6.0)]


@pytest.fixture(scope="session")
def e2e_replay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled replay of real fixture faces at 10 fps: its folder (frames/ + truth.json)."""
    from moodpi.lab.replaygen import load_fixture_faces, make_labelled_replay

    out = tmp_path_factory.mktemp("replay")
    faces = load_fixture_faces(FIXTURE_FACES)
    make_labelled_replay(faces, out, fps=10.0, segments=E2E_SEGMENTS, seed=3)
    return out


@pytest.fixture(scope="session")
def music_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from moodpi.lab.musicgen import generate_library

    root = tmp_path_factory.mktemp("music")
    generate_library(root, seconds=4.0, seed=0)
    return root


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
        timeout=timeout_s,
        cwd=REPO,
    )
