"""Fixtures of the perception tests."""

from __future__ import annotations

import numpy as np
import pytest

from moodpi.lab.replaygen import load_fixture_faces
from tests.conftest import FIXTURE_FACES


@pytest.fixture(scope="session")
def all_faces() -> list[np.ndarray]:
    """Every FER-2013 face in tests/fixtures/faces, emotion by emotion."""
    return [f for group in load_fixture_faces(FIXTURE_FACES).values() for f in group]
