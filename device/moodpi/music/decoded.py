"""Files pygame's mixer cannot open (AAC in `.m4a`, WMA, ...), decoded by PyAV as they play.

`DecodedFile` decodes into an in-memory file (memfd) that looks to SDL_mixer like a WAV file of
16-bit stereo PCM at 44.1 kHz: a 44-byte header whose data length comes from the container's
duration, then the PCM, which a thread of its own writes up to AHEAD_S ahead of what was played,
giving back what was heard. pygame opens it by path, so SDL reads it in C on its audio thread,
never waiting for Python's GIL. (A Python file object handed to pygame is read through the GIL
on that thread: with one other thread running 20 ms of Python every 100 ms, the disk driver's
writes were up to 260 ms apart, a dropout on a sound card; through the memfd, 95 ms, as FLAC's.)
Nothing goes to disk, a track holds about 6 MB of memory, it starts as fast as a native one,
and the mixer's fades, volume, pause and position work as for any file. A stream that ends
before its header says ends the track early; one that runs longer is cut at the header's length.

PyAV (the `av` wheel, with its own FFmpeg) is imported on the first such file, never by a
library of only native formats (docs/library.md: why PyAV, and what it costs on a Pi).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import struct
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RATE_HZ = 44100
CHANNELS = 2
BYTES_PER_FRAME = 2 * CHANNELS  # signed 16-bit, interleaved
UNKNOWN_LENGTH_S = 6 * 3600.0  # a stream that does not say its length: ends when decoding does
HEADER_BYTES = 44
FIRST_S = 2.0  # decoded before the mixer opens the file
AHEAD_S = 30.0  # decoded ahead of what was played, at most
BEHIND_S = 5.0  # kept of what was played, then given back
FREE_STEP_BYTES = 1 << 20


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


class DecodedFile:
    """A file decoded as a WAV file in memory, for pygame.mixer.music.load(decoded.path).

    Call `played(position_s)` as the track plays (it paces the decoder and frees what was
    heard), and `close()` when done.
    """

    def __init__(self, path: str | Path, length_hint_s: float = 0.0) -> None:
        self._source = path
        container, stream = open_container(path)
        seconds = duration_s(container, stream) or length_hint_s or UNKNOWN_LENGTH_S
        data_bytes = min(int(seconds * RATE_HZ), 0x7FFF0000 // BYTES_PER_FRAME) * BYTES_PER_FRAME
        self._fd = os.memfd_create("moodpi-decoded", os.MFD_CLOEXEC)
        os.write(self._fd, _wav_header(data_bytes))
        self.path = f"/proc/self/fd/{self._fd}"  # SDL opens it anew: its own offset, in C
        self._cond = threading.Condition()
        self._played_s = 0.0
        self._written_s = 0.0
        self._freed = HEADER_BYTES  # bytes before this are holes (heard, given back)
        self._stopping = self._finished = False
        self._frames = _pcm(container, path)
        try:
            self._write(FIRST_S)  # the start, before the mixer opens it
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._run, name="moodpi-decoder", daemon=True)
        self._thread.start()

    def played(self, position_s: float) -> None:
        """The mixer has played this far into the track (the player thread, as it polls)."""
        with self._cond:
            self._played_s = max(self._played_s, position_s)
            self._cond.notify_all()

    def wait(self, timeout_s: float) -> bool:
        """Until all is decoded (tests; a track that plays never needs it)."""
        self.played(float("inf"))
        with self._cond:
            return self._cond.wait_for(lambda: self._finished, timeout_s)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        with contextlib.suppress(ValueError):  # ValueError: still decoding (the join timed out)
            self._frames.close()  # closes the container
        with contextlib.suppress(OSError):
            os.close(self._fd)  # the mixer's own open file keeps the data while it plays

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping or self._room_s() > 0)
                    if self._stopping:
                        return
                    ahead_s = self._room_s()
                if not self._write(ahead_s):
                    return
                self._give_back()
        except OSError as exc:  # memory full: the track ends where the decoding stopped
            log.warning("%s: decoding stopped: %s", self._source, exc)
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def _room_s(self) -> float:
        return self._played_s + AHEAD_S - self._written_s

    def _write(self, seconds: float) -> bool:
        """Decode and append about `seconds` of PCM; False at the end of the stream."""
        goal = self._written_s + seconds
        while self._written_s < goal:
            chunk = next(self._frames, None)
            if chunk is None:
                return False
            os.write(self._fd, chunk)
            self._written_s += len(chunk) / (RATE_HZ * BYTES_PER_FRAME)
        return True

    def _give_back(self) -> None:
        """Punch out what was heard more than BEHIND_S ago: a long track costs AHEAD_S of RAM."""
        heard = HEADER_BYTES + int(max(0.0, self._played_s - BEHIND_S) * RATE_HZ) * BYTES_PER_FRAME
        if heard - self._freed >= FREE_STEP_BYTES and _punch_hole(self._fd, self._freed, heard):
            self._freed = heard


def _pcm(container: Any, path: str | Path) -> Generator[bytes, None, None]:
    """16-bit stereo PCM at RATE_HZ, a frame or two at a time; closes the container."""
    import av

    resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE_HZ)
    try:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                yield out.to_ndarray().tobytes()
        for out in resampler.resample(None):
            yield out.to_ndarray().tobytes()
    except (av.error.FFmpegError, ValueError) as exc:  # damage past the start: end there
        log.warning("%s: decoding stopped: %s", path, _message(exc))
    finally:
        container.close()


def _punch_hole(fd: int, start: int, end: int) -> bool:
    """Give the pages of [start, end) back (fallocate's FALLOC_FL_PUNCH_HOLE | KEEP_SIZE)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fallocate = libc.fallocate
        fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        return bool(fallocate(fd, 3, start, end - start) == 0)
    except (OSError, AttributeError):  # no such call here: the track keeps its memory
        return False


def _wav_header(data_bytes: int) -> bytes:
    fmt = struct.pack(
        "<HHIIHH", 1, CHANNELS, RATE_HZ, RATE_HZ * BYTES_PER_FRAME, BYTES_PER_FRAME, 16
    )
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip
