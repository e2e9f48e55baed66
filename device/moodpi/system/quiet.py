"""Quiet commands: the chatter C libraries write to standard error below Python's logging.

ALSA (through SDL's audio: nine "ALSA lib ..." lines on a box without a card), LiteRT ("INFO:
Created TensorFlow Lite XNNPACK delegate for CPU."), OpenCV's video backends and libcamera write
to file descriptor 2 themselves, so no logger setting reaches them. A command a person types
calls `set_quiet(True)` once (unless -v): the libraries that read a log level from the
environment get one, and `native_quiet()`, held around each opening of a model, the sound card or
the camera, points fd 2 at /dev/null meanwhile. The daemon never sets it: under systemd those
lines belong in its journal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, MutableMapping

# Log levels the libraries read from the environment when they load (a person's own setting wins).
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ logging (tflite-runtime builds)
    "OPENCV_LOG_LEVEL": "ERROR",
    "LIBCAMERA_LOG_LEVELS": "*:ERROR",
    "PYGAME_HIDE_SUPPORT_PROMPT": "1",
}

_quiet = False
_lock = threading.Lock()
_depth = 0
_saved_fd: int | None = None


def set_quiet(quiet: bool, environ: MutableMapping[str, str] | None = None) -> None:
    """Quiet (a command a person typed, without -v) or not (the daemon, or -v)."""
    global _quiet
    _quiet = quiet
    if quiet:
        env = os.environ if environ is None else environ
        for name, value in QUIET_ENVIRONMENT.items():
            env.setdefault(name, value)


def is_quiet() -> bool:
    return _quiet


@contextlib.contextmanager
def native_quiet() -> Iterator[None]:
    """While quiet: what C code writes to fd 2 inside the block is dropped. Nested and
    concurrent blocks share one redirection; Python's own output written meanwhile is lost too,
    so the block holds the C call only."""
    if not _quiet:
        yield
        return
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _depth, _saved_fd
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        with contextlib.suppress(Exception):
            sys.stderr.flush()  # what Python wrote before the block still shows
        try:
            _saved_fd = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 2)
            finally:
                os.close(devnull)
        except OSError:  # no fd 2 to begin with: nothing to hide
            _close_saved()


def _leave() -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth or _saved_fd is None:
            return
        with contextlib.suppress(OSError):
            os.dup2(_saved_fd, 2)
        _close_saved()


def _close_saved() -> None:
    global _saved_fd
    if _saved_fd is not None:
        with contextlib.suppress(OSError):
            os.close(_saved_fd)
    _saved_fd = None
