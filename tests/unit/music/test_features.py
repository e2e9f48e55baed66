"""Audio descriptors of rendered pieces whose key, mode and tempo are known (real soundfile)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from moodpi.music.analysis import features
from musicgen import MAJOR, MINOR, Style, _write_wav, render

RATE = features.RATE_HZ


def _piece(path: Path, *, minor: bool, bpm: float, root: int = 60, seconds: float = 8.0) -> Path:
    style = Style(bpm, MINOR if minor else MAJOR, root, (0, 3, 4, 0), "arp", beat=True)
    _write_wav(path, render(style, seconds, np.random.default_rng(0)))
    return path


@pytest.mark.parametrize(("minor", "bpm", "root"), [(False, 120, 60), (True, 96, 57)])
def test_descriptors_find_key_mode_and_tempo_of_a_known_piece(
    tmp_path: Path, minor: bool, bpm: float, root: int
) -> None:
    found = features.describe_file(_piece(tmp_path / "p.wav", minor=minor, bpm=bpm, root=root))
    assert (found.key, found.mode) == (features.KEYS[root % 12], "minor" if minor else "major")
    assert any(abs(found.tempo_bpm - bpm * k) <= 0.04 * bpm * k for k in (0.5, 1, 2))
    assert -40 < found.loudness_db < 0
    assert len(found.vector) > 40 and all(np.isfinite(list(found.vector.values())))


def test_loudness_is_rms_in_dbfs() -> None:
    t = np.arange(RATE * 2) / RATE
    assert features.describe(0.5 * np.sin(2 * np.pi * 440 * t)).loudness_db == pytest.approx(
        -9.03, abs=0.2
    )


def test_an_undecodable_file_raises_a_decode_error(tmp_path: Path) -> None:
    bad = tmp_path / "song.m4a"
    bad.write_bytes(b"\x00\x00\x00\x20ftypM4A " + os.urandom(2000))
    with pytest.raises(features.DecodeError):
        features.decode_excerpt(bad)
