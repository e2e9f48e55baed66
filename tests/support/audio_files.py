"""Audio files in every format the library takes, encoded by PyAV (FFmpeg's encoders): a stereo
sine of a known frequency and level, so a test can tell which file it hears, and how loud."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

# suffix → (container format, codec, sample rate)
ENCODINGS: dict[str, tuple[str, str, int]] = {
    ".m4a": ("ipod", "aac", 44100),
    ".opus": ("ogg", "libopus", 48000),
    ".aiff": ("aiff", "pcm_s16be", 44100),
    ".mp3": ("mp3", "libmp3lame", 44100),
    ".flac": ("flac", "flac", 44100),
    ".wav": ("wav", "pcm_s16le", 44100),
    ".wma": ("asf", "wmav2", 44100),
    ".wv": ("wv", "wavpack", 44100),
    ".aac": ("adts", "aac", 44100),
}


def tone(freq_hz: float, seconds: float, level_dbfs: float, rate: int = 44100) -> np.ndarray:
    """(2, n) float32: the same sine in both channels, peak at `level_dbfs`; a stereo sine near
    1 kHz at peak A dBFS measures A LUFS (ITU-R BS.1770)."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (10 ** (level_dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return np.stack([wave, wave])


def write_tone(
    path: Path, freq_hz: float, *, seconds: float = 1.5, level_dbfs: float = -12.0,
    codec: str | None = None,
) -> Path:  # fmt: skip
    """Encode the tone into `path` in the format its suffix names (ENCODINGS); `codec` overrides
    (".m4a" with "alac")."""
    container_format, default_codec, rate = ENCODINGS[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec or default_codec, rate=rate, layout="stereo")
        sample_format = stream.codec_context.codec.audio_formats[0].name
        stream.format = sample_format  # type: ignore[assignment]
        stream.bit_rate = 128_000  # the lossy ones (wmav2 has no default)
        frame = av.AudioFrame.from_ndarray(tone(freq_hz, seconds, level_dbfs), format="fltp",
                                           layout="stereo")  # fmt: skip
        frame.sample_rate = 44100
        resampler = av.AudioResampler(format=sample_format, layout="stereo", rate=rate)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    return path
