"""Shared fixtures: generated replays and music, and a runner for the real daemon."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.daemon import REPO

FIXTURE_FACES = REPO / "tests" / "fixtures" / "faces"
SHARED_FER = REPO.parent / "shared" / "data" / "fer2013"

# pygame/SDL must never open a window or a real sound card in tests.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
# The suite runs in parallel (pytest-xdist): one thread per library per worker, not one per core
# each, so that workers do not fight over the cores (the daemon's children inherit this too).
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENCV_FOR_THREADS_NUM"):
    os.environ.setdefault(_threads, "1")

# a real mosquitto per test: mqtt_broker, broker_factory, ...
pytest_plugins = ["tests.support.broker"]

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
    from musicgen import generate_library  # scripts/musicgen.py

    root = tmp_path_factory.mktemp("music")
    generate_library(root, seconds=4.0, seed=0)
    return root


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo library with 1 s clips (seed 1), once per test module: scans and the generator."""
    from musicgen import generate_library

    root = tmp_path_factory.mktemp("music")
    generate_library(root, seconds=1.0, seed=1)
    return root
