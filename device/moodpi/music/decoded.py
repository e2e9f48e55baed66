"""Files pygame's mixer cannot open (AAC in `.m4a`, WMA, ...), decoded by PyAV as they play.

`WavStream` is a read-only file that looks to SDL_mixer like a WAV file of 16-bit stereo PCM at
44.1 kHz: a 44-byte header whose data length comes from the container's duration, then the PCM,
decoded a few FFmpeg frames at a time as the mixer reads (it reads about 8 KB per 46 ms buffer,
from SDL's audio thread, through pygame). So nothing is written to disk, memory stays at one
decoded frame or two, and a track starts as fast as a native one; the mixer's fades, volume,
pause and position work as for any file. A stream that ends before its header says ends the
track early; one that runs longer is cut at the header's length.

PyAV (the `av` wheel, with its own FFmpeg) is imported on the first such file, never by a
library of only native formats (docs/library.md: why PyAV, and what it costs on a Pi).
"""

from __future__ import annotations

import io
import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RATE_HZ = 44100
CHANNELS = 2
BYTES_PER_FRAME = 2 * CHANNELS  # signed 16-bit, interleaved
UNKNOWN_LENGTH_S = 6 * 3600.0  # a stream that does not say its length: ends when decoding does


class DecodeError(Exception):
    """The file cannot be decoded (no audio stream, damaged, protected, PyAV missing)."""


def open_container(path: str | Path) -> tuple[Any, Any]:
    """(container, its first audio stream), opened by PyAV; DecodeError when it cannot be."""
    try:
        import av
    except ImportError as exc:
        raise DecodeError(f"PyAV is not installed ({exc}): pip install av") from exc
    name = os.fsdecode(path)
    try:
        name.encode("utf-8")
        source: Any = name
    except UnicodeEncodeError:  # a name that is not UTF-8: FFmpeg gets an open file instead
        source = open(path, "rb")  # noqa: SIM115 (the container closes it)
    try:
        container = av.open(source, metadata_errors="ignore")
    except Exception as exc:  # av.error.* for damaged or unknown files
        if not isinstance(source, str):
            source.close()
        raise DecodeError(_message(exc)) from exc
    if not container.streams.audio:
        container.close()
        raise DecodeError("no audio stream")
    return container, container.streams.audio[0]


def duration_s(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE
    return None


def _message(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


class WavStream(io.RawIOBase):
    """A decoded file as WAV for pygame.mixer.music.load(stream, "wav"); close() when done."""

    def __init__(self, path: str | Path, length_hint_s: float = 0.0) -> None:
        super().__init__()
        self._path = path
        self._container, stream = open_container(path)
        seconds = duration_s(self._container, stream) or length_hint_s or UNKNOWN_LENGTH_S
        data_bytes = min(int(seconds * RATE_HZ), 0x7FFF0000 // BYTES_PER_FRAME) * BYTES_PER_FRAME
        self._header = _wav_header(data_bytes)
        self._size = len(self._header) + data_bytes
        self._pos = 0  # in the whole virtual file
        self._pcm: Iterator[bytes] = self._decode()
        self._buffer = bytearray()  # decoded PCM from _buffer_at on
        self._buffer_at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self._size - self._pos))
        done = 0
        header = len(self._header)
        if wanted and self._pos < header:
            part = self._header[self._pos : self._pos + wanted]
            view[: len(part)] = part
            done = len(part)
        if wanted > done:
            pcm = self._pcm_at(self._pos + done - header, wanted - done)
            view[done : done + len(pcm)] = pcm
            done += len(pcm)
        self._pos += done
        return done

    def close(self) -> None:
        if not self.closed:
            self._container.close()
        super().close()

    def _pcm_at(self, offset: int, count: int) -> bytes:
        """`count` bytes of PCM from `offset` (fewer at the end of the stream)."""
        if offset < self._buffer_at:  # SDL went back (a rewind): decode again from the start
            self._container.close()
            self._container, _ = open_container(self._path)
            self._pcm, self._buffer, self._buffer_at = self._decode(), bytearray(), 0
        while self._buffer_at + len(self._buffer) < offset + count:
            chunk = next(self._pcm, None)
            if chunk is None:
                break
            self._buffer += chunk
        skip = min(max(0, offset - self._buffer_at), len(self._buffer))
        del self._buffer[:skip]
        self._buffer_at += skip
        data = bytes(self._buffer[:count])
        del self._buffer[: len(data)]
        self._buffer_at += len(data)
        return data

    def _decode(self) -> Iterator[bytes]:
        import av

        resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE_HZ)
        try:
            for frame in self._container.decode(audio=0):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().tobytes()
            for out in resampler.resample(None):
                yield out.to_ndarray().tobytes()
        except (av.error.FFmpegError, ValueError) as exc:  # damage past the start: end there
            log.warning("%s: decoding stopped: %s", self._path, _message(exc))


def _wav_header(data_bytes: int) -> bytes:
    fmt = struct.pack(
        "<HHIIHH", 1, CHANNELS, RATE_HZ, RATE_HZ * BYTES_PER_FRAME, BYTES_PER_FRAME, 16
    )
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip
