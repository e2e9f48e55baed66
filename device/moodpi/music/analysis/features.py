"""Audio descriptors of one excerpt, with numpy and scipy only (the analyser's process, never the
daemon's: importing this module costs scipy and soundfile); decode.py reads the excerpt.

Why not librosa: on the same clips this path gives the descriptors the calibration needs in a
fraction of librosa's time and memory, with no numba JIT to compile on a Pi's first run
(bench/music-features.txt, `scripts/music/bench_features.py`).

One short-time Fourier transform feeds everything: loudness and its dynamics, brightness
(spectral centroid, roll-off, flatness), timbre (mel-cepstral coefficients), the onset envelope
for tempo and pulse clarity, and a chromagram for key and mode (Krumhansl-Kessler profiles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.fft import dct

from moodpi.music.analysis.decode import EXCERPT_S, RATE_HZ, decode_excerpt
from moodpi.music.analysis.decode import DecodeError as DecodeError  # the analyser's and tests'

N_FFT = 2048
HOP = 512
N_MELS = 40
N_MFCC = 13
TEMPO_MIN_BPM = 50.0
TEMPO_MAX_BPM = 210.0
KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Albrecht & Shanahan (2013) key profiles, tonic first: on rendered Bach chorales they found the
# mode more often than Krumhansl & Kessler's or Temperley's (bench/music-scores.txt).
_MAJOR_PROFILE = np.array(
    [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]
)
_MINOR_PROFILE = np.array(
    [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]
)
_LEADING_TONE_WEIGHT = 4.0  # minor's raised 7th (G# in A minor) is foreign to the relative major

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Descriptors:
    """What the valence-arousal model and the library keep of one excerpt."""

    tempo_bpm: float
    pulse_clarity: float  # 0..1: how periodic the onsets are
    loudness_db: float  # mean frame RMS, dBFS
    key: str  # tonic, one of KEYS
    mode: str  # "major" | "minor"
    key_clarity: float  # correlation of the chroma with the best key profile, -1..1
    excerpt_s: float
    vector: dict[str, float] = field(default_factory=dict)  # every named feature, for the model


def describe(samples: Floats, excerpt_s: float | None = None) -> Descriptors:
    """Descriptors of mono samples at RATE_HZ (at least a second)."""
    if len(samples) < RATE_HZ:
        samples = np.pad(samples, (0, RATE_HZ - len(samples)))
    power = _power_spectrogram(samples)
    # Parseval, for a one-sided spectrum of Hann-windowed frames (the window keeps 3/8 of power)
    rms_db = 10 * np.log10(np.maximum(power.sum(axis=0) * 2 / N_FFT**2 / 0.375, 1e-10))
    mel_db = 10 * np.log10(np.maximum(_mel_filters() @ power, 1e-10))
    onset = _onset_envelope(mel_db)
    tempo, clarity = tempo_of(onset)
    chroma = _chroma(power)
    tonic, mode, key_corr, mode_margin = key_of(chroma.sum(axis=1))
    vector = {
        **_loudness_features(rms_db),
        **_spectral_features(power),
        **_cepstral_features(mel_db),
        "onset_mean": float(onset.mean()),
        "onset_std": float(onset.std()),
        "onset_rate_hz": _peak_rate(onset),
        "tempo_log2": float(np.log2(tempo / 120.0)),
        "pulse_clarity": clarity,
        "key_clarity": key_corr,
        "mode_major": 1.0 if mode == "major" else -1.0,
        "mode_margin": mode_margin,
        "chroma_entropy": _entropy(chroma.mean(axis=1)),
        "zcr": float(np.mean(np.abs(np.diff(np.sign(samples))) > 0)),
    }
    return Descriptors(
        tempo_bpm=round(tempo, 2),
        pulse_clarity=round(clarity, 4),
        loudness_db=round(vector["rms_db_mean"], 2),
        key=KEYS[tonic],
        mode=mode,
        key_clarity=round(key_corr, 4),
        excerpt_s=round(excerpt_s if excerpt_s is not None else len(samples) / RATE_HZ, 2),
        vector={k: round(v, 6) for k, v in vector.items()},
    )


def describe_file(path: Path, excerpt_s: float = EXCERPT_S) -> Descriptors:
    samples, seconds = decode_excerpt(path, excerpt_s)
    return describe(samples, seconds)


# -- the spectrogram and its views ------------------------------------------------------------


def _power_spectrogram(samples: Floats) -> Floats:
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * np.hanning(N_FFT), axis=1)
    return np.asarray((spectrum.real**2 + spectrum.imag**2).T, dtype=np.float64)  # (bins, frames)


@lru_cache(maxsize=1)
def _mel_filters() -> Floats:
    """Triangular filters, N_MELS on the mel scale from 30 Hz to 8 kHz."""

    def mel(hz: Floats) -> Floats:
        return np.asarray(2595 * np.log10(1 + hz / 700), dtype=np.float64)

    edges_mel = np.linspace(mel(np.array(30.0)), mel(np.array(8000.0)), N_MELS + 2)
    edges_hz = 700 * (10 ** (edges_mel / 2595) - 1)
    bins_hz = np.fft.rfftfreq(N_FFT, 1 / RATE_HZ)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz - lower) / (centre - lower)
    falling = (upper - bins_hz) / (upper - centre)
    return np.asarray(np.maximum(0, np.minimum(rising, falling)), dtype=np.float64)


@lru_cache(maxsize=1)
def _chroma_filters() -> Floats:
    """Each FFT bin from 100 Hz to 1 kHz to its pitch class (a bin counts once, to the nearest).

    Below 100 Hz a bin is wider than a semitone; above 1 kHz the partials of lower notes (the
    3rd is a fifth up, the 5th a major third) outweigh the notes themselves and pull the key a
    fifth up. On rendered chorales this band found the mode in 0.90 of pieces, 55 Hz-2 kHz 0.85.
    """
    bins_hz = np.fft.rfftfreq(N_FFT, 1 / RATE_HZ)
    filters = np.zeros((12, len(bins_hz)))
    audible = (bins_hz >= 100) & (bins_hz <= 1000)
    midi = 69 + 12 * np.log2(bins_hz[audible] / 440.0)
    filters[np.round(midi).astype(int) % 12, np.flatnonzero(audible)] = 1.0
    return filters


def _chroma(power: Floats) -> Floats:
    chroma = _chroma_filters() @ np.sqrt(power)
    total = np.maximum(chroma.sum(axis=0, keepdims=True), 1e-9)
    return np.asarray(chroma / total, dtype=np.float64)


def _onset_envelope(mel_db: Floats) -> Floats:
    flux = np.maximum(0.0, np.diff(np.maximum(mel_db, mel_db.max() - 80), axis=1)).mean(axis=0)
    local_mean = np.convolve(flux, np.ones(16) / 16, mode="same")
    return np.asarray(flux - local_mean, dtype=np.float64).clip(0)


def tempo_of(onset: Floats) -> tuple[float, float]:
    """(BPM, pulse clarity) from the onset envelope's autocorrelation, with a prior around 120.

    The log-normal prior (as librosa's) settles the octave: of 60, 120 and 240 BPM, all periodic
    in a 120 BPM pulse, the one near a moderate tempo wins.
    """
    frame_rate = RATE_HZ / HOP
    # A little smoothing first: a beat whose period falls between two frames (120 BPM is 21.5
    # frames) would otherwise lose its peak to a multiple of the sub-beat that falls on one.
    kernel = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    onset = np.convolve(onset, kernel / kernel.sum(), mode="same")
    centred = onset - onset.mean()
    spectrum = np.fft.rfft(centred, 2 * len(centred))
    acf = np.fft.irfft(np.abs(spectrum) ** 2)[: len(centred)]
    if acf[0] <= 0:
        return 120.0, 0.0
    acf = acf / acf[0]
    lags = np.arange(len(acf), dtype=np.float64)
    lo = int(frame_rate * 60 / TEMPO_MAX_BPM)
    hi = min(len(acf) - 1, int(frame_rate * 60 / TEMPO_MIN_BPM) + 1)
    bpm = 60 * frame_rate / np.maximum(lags[lo:hi], 1)
    prior = np.exp(-0.5 * (np.log2(bpm / 120.0) / 1.0) ** 2)
    score = acf[lo:hi] * prior
    best = int(np.argmax(score))
    lag = lo + best + _parabolic(acf, lo + best)
    return float(60 * frame_rate / lag), float(np.clip(acf[lo + best], 0.0, 1.0))


def _parabolic(values: Floats, i: int) -> float:
    if i <= 0 or i >= len(values) - 1:
        return 0.0
    a, b, c = values[i - 1], values[i], values[i + 1]
    denominator = a - 2 * b + c
    # The vertex of a true peak lies within half a lag of it; beyond, the curve is flat (a steady
    # tone's onsets), and the offset would make the tempo negative or thousands of BPM.
    return float(np.clip(0.5 * (a - c) / denominator, -0.5, 0.5)) if denominator else 0.0


def key_of(chroma_sum: Floats) -> tuple[int, str, float, float]:
    """(tonic 0-11, mode, best correlation, minor-vs-major margin: > 0 major).

    First the key signature: the relative pair (a major key and its minor a sixth above, which
    share their notes) whose better profile fits best. Then the mode within the pair, where
    profiles alone confuse the two most (a minor piece's middle often visits its relative
    major): the profiles' difference plus the weight of the minor's leading tone.
    """
    major = np.array([_corr(chroma_sum, np.roll(_MAJOR_PROFILE, k)) for k in range(12)])
    minor = np.array([_corr(chroma_sum, np.roll(_MINOR_PROFILE, k)) for k in range(12)])
    pair = np.maximum(major, np.roll(minor, -9))  # pair k: k major, k + 9 minor
    tonic = int(np.argmax(pair))
    relative = (tonic + 9) % 12
    share = chroma_sum / max(float(chroma_sum.sum()), 1e-12)
    margin = float(major[tonic] - minor[relative])
    margin -= _LEADING_TONE_WEIGHT * float(share[(relative + 11) % 12])
    if margin >= 0:
        return tonic, "major", float(major[tonic]), margin
    return relative, "minor", float(minor[relative]), margin


def _corr(a: Floats, b: Floats) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator else 0.0


# -- summaries --------------------------------------------------------------------------------


def _loudness_features(rms_db: Floats) -> dict[str, float]:
    voiced = rms_db[rms_db > rms_db.max() - 60]
    p10, p50, p95 = np.percentile(voiced, [10, 50, 95])
    return {
        "rms_db_mean": float(voiced.mean()),
        "rms_db_std": float(voiced.std()),
        "dynamic_range_db": float(p95 - p10),
        "low_energy": float(np.mean(voiced < voiced.mean())),
        "rms_db_median": float(p50),
    }


def _spectral_features(power: Floats) -> dict[str, float]:
    bins_hz = np.fft.rfftfreq(N_FFT, 1 / RATE_HZ)
    total = np.maximum(power.sum(axis=0), 1e-12)
    loud = total > total.max() * 1e-5
    centroid = (bins_hz @ power) / total
    cumulative = np.cumsum(power, axis=0) / total
    rolloff = bins_hz[np.argmax(cumulative >= 0.85, axis=0)]
    flatness = np.exp(np.log(power + 1e-12).mean(axis=0)) / (power.mean(axis=0) + 1e-12)
    low = power[bins_hz < 250].sum(axis=0) / total
    return {
        "centroid_log": float(np.log2(np.maximum(centroid[loud], 1)).mean()),
        "centroid_std": float(np.log2(np.maximum(centroid[loud], 1)).std()),
        "rolloff_log": float(np.log2(np.maximum(rolloff[loud], 1)).mean()),
        "flatness": float(flatness[loud].mean()),
        "bass_share": float(low[loud].mean()),
    }


def _cepstral_features(mel_db: Floats) -> dict[str, float]:
    mfcc = dct(mel_db, type=2, axis=0, norm="ortho")[:N_MFCC]
    means, stds = mfcc.mean(axis=1), mfcc.std(axis=1)
    return {
        **{f"mfcc{i}_mean": float(m) for i, m in enumerate(means)},
        **{f"mfcc{i}_std": float(s) for i, s in enumerate(stds)},
    }


def _peak_rate(onset: Floats) -> float:
    threshold = onset.mean() + onset.std()
    peaks = (onset[1:-1] > onset[:-2]) & (onset[1:-1] >= onset[2:]) & (onset[1:-1] > threshold)
    return float(peaks.sum() / (len(onset) * HOP / RATE_HZ))


def _entropy(distribution: Floats) -> float:
    p = distribution / max(float(distribution.sum()), 1e-12)
    return float(-(p * np.log2(p + 1e-12)).sum())
