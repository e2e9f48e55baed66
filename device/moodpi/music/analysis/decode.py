"""An excerpt of a file's audio for the analysis: libsndfile (soundfile) where it reads the format,
PyAV (FFmpeg's decoders) for the rest (AAC and ALAC in `.m4a`, WMA, WavPack) and for the files
libsndfile refuses. The analyser's process only: this costs soundfile and scipy.

The excerpt keeps its channels and rate, for the loudness (ITU-R BS.1770 weighs channels
separately); `decode_excerpt` gives the features their mono signal at RATE_HZ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from numpy.typing import NDArray
from scipy.signal import resample_poly

from moodpi.music.decoded import DecodeError, duration_s, open_container
from moodpi.music.library.formats import suffix

RATE_HZ = 22050
EXCERPT_S = 30.0
# What libsndfile 1.2 (bundled with soundfile >= 0.12) reads; it has no MP4 or ASF reader.
SOUNDFILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                                ".aifc"})  # fmt: skip

Floats = NDArray[np.float64]

__all__ = ["EXCERPT_S", "RATE_HZ", "DecodeError", "Excerpt", "decode_excerpt", "read_excerpt"]


@dataclass(frozen=True)
class Excerpt:
    samples: NDArray[np.float32]  # (frames, channels), -1..1
    rate_hz: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate_hz


def read_excerpt(path: Path, excerpt_s: float = EXCERPT_S) -> Excerpt:
    """Up to `excerpt_s` from the middle of the file; DecodeError saying why when it cannot."""
    errors = []
    if suffix(path) in SOUNDFILE_SUFFIXES:
        try:
            return _with_soundfile(path, excerpt_s)
        except DecodeError as exc:
            errors.append(f"libsndfile: {exc}")
    try:
        return _with_pyav(path, excerpt_s)
    except DecodeError as exc:
        errors.append(f"FFmpeg: {exc}" if errors else str(exc))
    raise DecodeError("; ".join(errors))


def decode_excerpt(path: Path, excerpt_s: float = EXCERPT_S) -> tuple[Floats, float]:
    """Mono float samples at RATE_HZ of up to `excerpt_s` from the middle of the file."""
    excerpt = read_excerpt(path, excerpt_s)
    return to_mono(excerpt), excerpt.seconds


def to_mono(excerpt: Excerpt) -> Floats:
    mono = np.asarray(excerpt.samples.mean(axis=1, dtype=np.float64), dtype=np.float64)
    if excerpt.rate_hz == RATE_HZ:
        return mono
    g = np.gcd(excerpt.rate_hz, RATE_HZ)
    return np.asarray(resample_poly(mono, RATE_HZ // g, excerpt.rate_hz // g), dtype=np.float64)


def _with_soundfile(path: Path, excerpt_s: float) -> Excerpt:
    try:
        # An open file, not a name: libsndfile cannot open a name that is not UTF-8.
        with open(path, "rb") as raw, sf.SoundFile(raw) as f:
            rate, frames = f.samplerate, f.frames
            want = int(excerpt_s * rate)
            if frames > want:
                f.seek((frames - want) // 2)
            count = min(want, frames) if frames > 0 else want
            data = f.read(count, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise DecodeError(str(exc).strip() or type(exc).__name__) from exc
    if data.size == 0:
        raise DecodeError("no audio samples")
    return Excerpt(data, int(rate))


def _with_pyav(path: Path, excerpt_s: float) -> Excerpt:
    import av

    container, stream = open_container(path)
    with container:
        rate, channels = int(stream.rate or 0), int(stream.channels or 0)
        if rate <= 0 or channels <= 0:
            raise DecodeError("no sample rate or channels")
        total = duration_s(container, stream) or 0.0
        start = max(0.0, (total - excerpt_s) / 2)
        want = int(excerpt_s * rate)
        chunks: list[NDArray[Any]] = []
        have = 0
        resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=rate)
        try:
            if start > 0:  # to the key frame at or before the middle excerpt's start
                container.seek(int(start / stream.time_base), stream=stream)
            for frame in container.decode(stream):
                skip = int(max(0.0, start - (frame.time or 0.0)) * rate)
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(-1, channels)[skip:]
                    chunks.append(block[: want - have])
                    have += len(chunks[-1])
                if have >= want:
                    break
        except (av.error.FFmpegError, ValueError) as exc:
            if not have:  # damaged from the start; damage later: analyse what came before
                raise DecodeError(str(exc).strip() or type(exc).__name__) from exc
    if not have:
        raise DecodeError("no audio samples")
    return Excerpt(np.concatenate(chunks).astype(np.float32, copy=False), rate)
