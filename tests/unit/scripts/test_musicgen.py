"""scripts/musicgen.py, the demo music: every mapped category, idempotent, styles sound like
their names."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from moodpi import config as config_mod
from musicgen import CATEGORIES, STYLES, generate_library, write_clip

CLIP_S = 1.0  # small_library's clips (tests/conftest.py)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0, w.getframerate()


def test_generator_covers_every_mapped_category(small_library: Path) -> None:
    needed = set(config_mod.MIRROR_MAP.values()) | set(config_mod.UPLIFT_MAP.values())
    assert needed <= set(CATEGORIES)
    for category in needed:
        clips = sorted((small_library / category).glob("*.wav"))
        assert len(clips) == 2
        samples, rate_hz = _read_wav(clips[0])
        assert len(samples) == pytest.approx(CLIP_S * rate_hz, abs=1)
        assert 0.02 < float(np.sqrt(np.mean(samples**2))) < 0.8  # audible, not clipped flat
        assert not np.array_equal(samples, _read_wav(clips[1])[0])  # two different clips


def test_generator_is_idempotent(small_library: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in small_library.rglob("*.wav")}
    again = generate_library(small_library, seconds=CLIP_S, seed=1)
    assert {p for paths in again.values() for p in paths} == set(before)
    assert {p: p.stat().st_mtime_ns for p in small_library.rglob("*.wav")} == before


def test_generator_styles_sound_like_their_names(tmp_path: Path) -> None:
    def measure(category: str) -> tuple[float, float]:
        """(spectral centroid in Hz, mean frame-to-frame change of loudness / mean loudness)."""
        clip = write_clip(tmp_path / f"{category}.wav", category, seconds=4.0)
        samples, rate_hz = _read_wav(clip)
        spectrum = np.abs(np.fft.rfft(samples))
        freqs_hz = np.fft.rfftfreq(len(samples), 1 / rate_hz)
        centroid_hz = float((spectrum * freqs_hz).sum() / spectrum.sum())
        frame = rate_hz // 50
        frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
        loudness = np.sqrt(np.mean(frames**2, axis=1))
        return centroid_hz, float(np.abs(np.diff(loudness)).mean() / loudness.mean())

    bright = [measure(c) for c in ("happy", "upbeat", "exciting")]
    calm = [measure(c) for c in ("calming", "sad", "relaxing")]
    assert min(STYLES[c].bpm for c in ("happy", "upbeat", "exciting")) >= 120
    assert max(STYLES[c].bpm for c in ("calming", "sad")) <= 60
    assert min(c for c, _ in bright) > 2 * max(c for c, _ in calm)  # bright timbre, higher notes
    assert min(f for _, f in bright) > 3 * measure("calming")[1]  # many note onsets vs a smooth pad
