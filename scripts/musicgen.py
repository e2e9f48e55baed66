"""A small royalty-free demo library, synthesised with numpy: a few seconds of music per category.

Each category has a style (tempo, major or minor scale, chord progression, voice) chosen to sound
like its name: bright major arpeggios at 120+ BPM for happy/upbeat/exciting, slow minor pads for
sad, soft major pads for calming, a detuned tritone drone for disgust, a trembling low cluster for
fear. Clips are 16-bit mono WAV at 22.05 kHz (small; the mixer resamples), written with the stdlib
`wave` module. Generation is deterministic for a given seed and idempotent: files already there
are kept.

Used by make_demo.py, soak.py, music/bench_background.py, music/scores.py and the tests (pytest
has scripts/ on its path); not part of the installed package.
"""

from __future__ import annotations

import argparse
import logging
import sys
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 22050
CLIPS_PER_CATEGORY = 2
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class Style:
    bpm: float
    scale: tuple[int, ...]
    root_midi: int
    progression: tuple[int, ...]  # scale degrees (0-based) of the chord roots, one chord per bar
    voice: str  # arp | pad | pluck | pulse | drone | cluster
    harmonics: int = 3  # more harmonics: a brighter timbre
    beat: bool = False  # a soft kick on every beat
    drums: float = 0.0  # hi-hats on the eighths and a snare on 2 and 4, this loud (0: none)
    level_db: float | None = None  # RMS loudness to master to (None: peak-normalised)


STYLES: dict[str, Style] = {
    "happy": Style(126, MAJOR, 60, (0, 4, 5, 3), "arp", harmonics=4, beat=True),
    "upbeat": Style(132, MAJOR, 62, (0, 5, 3, 4), "arp", harmonics=5, beat=True),
    "exciting": Style(144, MAJOR, 64, (0, 3, 4, 4), "arp", harmonics=6, beat=True),
    "surprise": Style(120, MAJOR, 65, (0, 2, 5, 1), "pluck", harmonics=4, beat=True),
    "angry": Style(150, MINOR, 40, (0, 0, 5, 6), "pulse", harmonics=8, beat=True),
    "disgust": Style(84, MINOR, 43, (0, 1, 0, 4), "drone", harmonics=5),
    "fear": Style(60, MINOR, 38, (0, 1, 0, 5), "cluster", harmonics=2),
    "sad": Style(60, MINOR, 57, (0, 5, 3, 4), "pad", harmonics=2),
    "calming": Style(56, MAJOR, 55, (0, 3, 0, 4), "pad", harmonics=1),
    "relaxing": Style(64, MAJOR, 53, (0, 5, 3, 4), "pad", harmonics=2),
    "comforting": Style(72, MAJOR, 57, (0, 3, 4, 0), "pad", harmonics=3),
    "gentle": Style(80, MAJOR, 67, (0, 3, 5, 4), "pluck", harmonics=2),
    "neutral": Style(90, MAJOR, 60, (0, 0, 3, 3), "pluck", harmonics=1),
    "ambient": Style(50, MAJOR, 48, (0, 3, 0, 4), "drone", harmonics=2),
}
CATEGORIES: tuple[str, ...] = tuple(STYLES)

# The flat demo library (no category folders): styles spread over the valence-arousal plane,
# chosen from a sweep of 160 random styles by where moodpi's analysis placed them (it was
# calibrated on recorded music, so loud drums and dense spectra read as arousal and a light
# bass as valence more than mode and tempo do; synthetic tones are far from what it learnt, and
# a recalibration moves them). The file names say nothing: the analysis alone decides which
# mood each track serves (`moodpi library show --config demo/config.toml`).
FLAT_STYLES: tuple[Style, ...] = (
    Style(150, MINOR, 48, (0, 3, 4, 4), "arp", harmonics=2, drums=1.0, level_db=-20),  # bright
    Style(150, MINOR, 40, (0, 4, 5, 3), "pluck", harmonics=4, beat=True, drums=0.5, level_db=-20),
    Style(150, MAJOR, 48, (0, 3, 0, 4), "pad", harmonics=8, drums=1.0, level_db=-14),  # tense
    Style(126, MINOR, 55, (0, 1, 0, 4), "arp", harmonics=8, drums=0.5, level_db=-9),
    Style(150, MINOR, 48, (0, 1, 0, 4), "cluster", harmonics=1, beat=True, drums=0.5, level_db=-9),
    Style(56, MAJOR, 55, (0, 4, 5, 3), "cluster", harmonics=8, drums=0.5, level_db=-9),  # low
    Style(126, MINOR, 48, (0, 5, 3, 4), "arp", harmonics=4, beat=True, drums=1.0, level_db=-20),
    Style(150, MINOR, 62, (0, 3, 0, 4), "drone", harmonics=2, drums=0.5, level_db=-9),
    Style(126, MINOR, 48, (0, 1, 0, 4), "pad", harmonics=4, level_db=-9),  # calm
    Style(150, MAJOR, 48, (0, 4, 5, 3), "drone", harmonics=8, drums=0.5, level_db=-20),
    Style(96, MINOR, 40, (0, 5, 3, 4), "pluck", harmonics=1, drums=0.5, level_db=-14),
)


def generate_library(root: Path, *, seconds: float = 10.0, seed: int = 0) -> dict[str, list[Path]]:
    """Write CLIPS_PER_CATEGORY clips per category under root/<category>/; keep existing files."""
    if not 0.1 <= seconds <= 600:
        raise ValueError(f"seconds must be within 0.1..600, got {seconds}")
    written: dict[str, list[Path]] = {}
    for category in CATEGORIES:
        folder = Path(root) / category
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for clip in range(CLIPS_PER_CATEGORY):
            path = folder / f"{category}_{clip + 1}.wav"
            if not (path.is_file() and path.stat().st_size > 0):
                write_clip(path, category, seconds=seconds, seed=seed, variant=clip)
            paths.append(path)
        written[category] = paths
    log.info("demo library ready: %d clips in %s", sum(map(len, written.values())), root)
    return written


def generate_flat_library(root: Path, *, seconds: float = 10.0, seed: int = 0) -> list[Path]:
    """Write two clips of each FLAT_STYLES style straight into root/ (track_01.wav, ...)."""
    if not 0.1 <= seconds <= 600:
        raise ValueError(f"seconds must be within 0.1..600, got {seconds}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, style in enumerate(FLAT_STYLES):
        for clip in range(CLIPS_PER_CATEGORY):
            path = root / f"track_{index * CLIPS_PER_CATEGORY + clip + 1:02d}.wav"
            if not (path.is_file() and path.stat().st_size > 0):
                rng = np.random.default_rng([seed, 100 + index, clip])
                _write_wav(path, render(style, seconds, rng, variant=clip))
            paths.append(path)
    log.info("flat demo library ready: %d clips in %s", len(paths), root)
    return paths


def write_clip(
    path: Path, category: str, *, seconds: float, seed: int = 0, variant: int = 0
) -> Path:
    """One clip of `category` (one of CATEGORIES) as a 16-bit mono WAV file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, CATEGORIES.index(category), variant])
    _write_wav(path, render(STYLES[category], seconds, rng, variant=variant))
    return path


def render(style: Style, seconds: float, rng: np.random.Generator, variant: int = 0) -> np.ndarray:
    """Float samples in [-1, 1] at SAMPLE_RATE_HZ for one clip in `style`."""
    n = int(seconds * SAMPLE_RATE_HZ)
    out = np.zeros(n)
    beat_s = 60.0 / style.bpm
    bar_s = 4 * beat_s
    transpose = (0, 2, -3, 5)[variant % 4]
    progression = style.progression[variant % len(style.progression) :] + style.progression
    for bar in range(int(np.ceil(seconds / bar_s))):
        degree = progression[bar % len(style.progression)]
        chord = [_degree_midi(style, degree + step) + transpose for step in (0, 2, 4)]
        _VOICES[style.voice](_Bar(out, style, chord, bar * bar_s, bar_s, rng))
        if style.beat:
            for beat in range(4):
                _add(out, _kick(), bar * bar_s + beat * beat_s)
        if style.drums:
            _drum_bar(out, bar * bar_s, beat_s, style.drums, rng)
    out = np.tanh(out * 1.5) if style.voice == "pulse" else out  # angry: a little grit
    if style.level_db is not None:
        return _master(out, style.level_db)
    edge = min(n // 4, int(0.05 * SAMPLE_RATE_HZ))  # short fades: no click at start or end
    if edge:
        out[:edge] *= np.linspace(0, 1, edge)
        out[-edge:] *= np.linspace(1, 0, edge)
    peak = float(np.max(np.abs(out))) or 1.0
    return out * (0.7 / peak)


def _degree_midi(style: Style, degree: int) -> int:
    octave, index = divmod(degree, len(style.scale))
    return style.root_midi + 12 * octave + style.scale[index]


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _tone(hz: float, seconds: float, harmonics: int, detune: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    wave_ = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        wave_ += np.sin(2 * np.pi * hz * k * (1 + detune) * t) / k**1.3
    return wave_


def _envelope(n: int, attack_s: float, decay_per_s: float) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE_HZ
    attack = np.clip(t / max(attack_s, 1e-3), 0, 1)
    release = np.clip((n - np.arange(n)) / (0.05 * SAMPLE_RATE_HZ), 0, 1)
    return attack * np.exp(-decay_per_s * t) * release


def _add(out: np.ndarray, sound: np.ndarray, start_s: float) -> None:
    start = int(start_s * SAMPLE_RATE_HZ)
    if start >= len(out):
        return
    end = min(len(out), start + len(sound))
    out[start:end] += sound[: end - start]


@dataclass
class _Bar:
    """One bar being rendered: where it goes, its chord (MIDI notes), and the clip's randomness."""

    out: np.ndarray
    style: Style
    chord: list[int]
    t0_s: float
    length_s: float
    rng: np.random.Generator


def _pad(bar: _Bar, harmonics: int | None = None, octave: int = 0) -> None:
    for midi in bar.chord:
        detune = float(bar.rng.normal(0, 0.001))
        bright = harmonics or bar.style.harmonics
        tone = _tone(_hz(midi + 12 * octave), bar.length_s * 1.1, bright, detune)
        _add(bar.out, 0.4 * tone * _envelope(len(tone), bar.length_s * 0.35, 0.2), bar.t0_s)


def _arp(bar: _Bar) -> None:
    c = bar.chord
    notes = [*c, c[0] + 12, c[1] + 12, c[2] + 12, c[0] + 24, c[2] + 12]
    step_s = bar.length_s / 16
    for i in range(16):
        tone = _tone(_hz(notes[i % len(notes)]), step_s * 2, bar.style.harmonics)
        _add(bar.out, 0.35 * tone * _envelope(len(tone), 0.005, 8.0), bar.t0_s + i * step_s)
    _pad(bar, harmonics=1, octave=-1)  # a soft bed under the arpeggio


def _pluck(bar: _Bar) -> None:
    pentatonic = [bar.chord[0] + s for s in (0, 2, 4, 7, 9, 12, 14, 16)]
    step_s = bar.length_s / 8
    for i in range(8):
        tone = _tone(_hz(int(bar.rng.choice(pentatonic))), step_s * 3, bar.style.harmonics)
        _add(bar.out, 0.4 * tone * _envelope(len(tone), 0.004, 4.0), bar.t0_s + i * step_s)


def _pulse(bar: _Bar) -> None:
    step_s = bar.length_s / 8
    for i in range(8):
        midi = bar.chord[0] + (12 if i % 4 == 3 else 0)
        tone = _tone(_hz(midi), step_s, bar.style.harmonics)
        _add(bar.out, 0.6 * tone * _envelope(len(tone), 0.002, 3.0), bar.t0_s + i * step_s)


def _drone(bar: _Bar) -> None:
    # Minor: root, tritone and fifth beating against each other; major: root, fifth, octave.
    intervals = (0, 6, 7) if bar.style.scale == MINOR else (0, 7, 12)
    for interval in intervals:
        hz = _hz(bar.chord[0] + interval)
        tone = _tone(hz, bar.length_s * 1.1, bar.style.harmonics, detune=0.003 * interval / 12)
        _add(bar.out, 0.35 * tone * _envelope(len(tone), bar.length_s * 0.4, 0.1), bar.t0_s)
    shimmer = _tone(_hz(bar.chord[2] + 24), bar.length_s / 2, 1)
    start_s = bar.t0_s + bar.length_s * float(bar.rng.uniform(0, 0.5))
    _add(bar.out, 0.08 * shimmer * _envelope(len(shimmer), 0.3, 1.0), start_s)


def _cluster(bar: _Bar) -> None:
    for interval in (0, 1, 13):  # minor seconds: unease
        tone = _tone(_hz(bar.chord[0] + interval), bar.length_s * 1.05, bar.style.harmonics)
        n = len(tone)
        tremolo = 0.6 + 0.4 * np.sin(2 * np.pi * 6.0 * np.arange(n) / SAMPLE_RATE_HZ)
        _add(bar.out, 0.35 * tone * tremolo * _envelope(n, bar.length_s * 0.3, 0.3), bar.t0_s)


def _drum_bar(out: np.ndarray, t0_s: float, beat_s: float, level: float,
              rng: np.random.Generator) -> None:  # fmt: skip
    for eighth in range(8):
        n = int(0.04 * SAMPLE_RATE_HZ)
        hat = np.diff(rng.normal(0, 1, n + 1)) * np.exp(-np.arange(n) / (0.008 * SAMPLE_RATE_HZ))
        _add(out, 0.25 * level * hat, t0_s + eighth * beat_s / 2)
    for beat in (1, 3):
        n = int(0.15 * SAMPLE_RATE_HZ)
        snare = rng.normal(0, 1, n) * np.exp(-np.arange(n) / (0.04 * SAMPLE_RATE_HZ))
        _add(out, 0.5 * level * snare, t0_s + beat * beat_s)


def _master(samples: np.ndarray, level_db: float) -> np.ndarray:
    """Loudness to `level_db` RMS with a soft limiter, as records are mastered; short fades."""
    rms = float(np.sqrt(np.mean(samples**2))) or 1.0
    out = np.tanh(samples * (10 ** (level_db / 20) / rms) * 1.2) / 1.2
    edge = min(len(out) // 4, int(0.05 * SAMPLE_RATE_HZ))
    if edge:
        out[:edge] *= np.linspace(0, 1, edge)
        out[-edge:] *= np.linspace(1, 0, edge)
    return np.asarray(out * 0.98, dtype=np.float64)


def _kick() -> np.ndarray:
    n = int(0.12 * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    sweep_hz = 120 * np.exp(-t * 25) + 45
    return 0.5 * np.sin(2 * np.pi * np.cumsum(sweep_hz) / SAMPLE_RATE_HZ) * np.exp(-t * 30)


_VOICES: dict[str, Callable[[_Bar], None]] = {
    "pad": _pad,
    "arp": _arp,
    "pluck": _pluck,
    "pulse": _pulse,
    "drone": _drone,
    "cluster": _cluster,
}


def _write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    tmp = path.with_suffix(".wav.part")  # never leave a half-written clip under its real name
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE_HZ)
        w.writeframes(pcm.tobytes())
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """`scripts/musicgen.py DIR`: write the demo library (make_demo.py writes the flat one)."""
    parser = argparse.ArgumentParser(prog="scripts/musicgen.py", description=main.__doc__)
    parser.add_argument("root", type=Path, help="folder to fill (a sub-folder per category)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flat", action="store_true", help="no category folders (FLAT_STYLES)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.flat:
        generate_flat_library(args.root, seconds=args.seconds, seed=args.seed)
    else:
        generate_library(args.root, seconds=args.seconds, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
