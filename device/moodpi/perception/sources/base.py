"""What every frame source shares: the interface, its errors, and frame checks.

`FrameSource` has three implementations, one module each: `picamera.Picamera2Source` (the Pi
camera's `lores` Y plane), `v4l2.V4L2Source` (USB webcams through OpenCV) and
`replay.ReplaySource` (a video file or an image folder on the replay clock). `open_source()` in
this package picks one by the scheme of `camera.source`. Frames are grey (H, W) uint8.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, Self, runtime_checkable

import numpy as np

from moodpi.perception.image import to_grey
from moodpi.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MIN_SIDE_PX = 8  # anything smaller is not a camera frame


class CameraError(RuntimeError):
    """A camera or replay cannot be opened or read; the message says which and why."""


class SourceEnded(Exception):
    """A replay reached the end of its input."""


@runtime_checkable
class FrameSource(Protocol):
    """start() opens, read() returns a Frame or None (nothing within timeout_s), stop() closes."""

    is_replay: bool
    frames_bad: int

    def start(self) -> None: ...

    def read(self, timeout_s: float) -> Frame | None: ...

    def stop(self) -> None: ...

    def describe(self) -> str: ...


def valid_image(image: object) -> bool:
    """A usable grey frame: 2-D uint8, at least MIN_SIDE_PX on each side."""
    return (
        isinstance(image, np.ndarray)
        and image.ndim == 2
        and image.dtype == np.uint8
        and min(image.shape) >= MIN_SIDE_PX
    )


def usable_grey(image: object) -> np.ndarray | None:
    """The image as grey (see to_grey) when it is a usable frame, else None (a bad frame)."""
    try:
        grey = to_grey(image)
    except ValueError:
        return None
    return grey if valid_image(grey) else None


def mirror(image: np.ndarray, hflip: bool) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1]) if hflip else image


class SourceBase:
    """Shared parts: counters and use as a context manager (start on enter, stop on exit)."""

    is_replay = False

    def __init__(self) -> None:
        self.frames_bad = 0

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def quietly(call: Callable[[], object], what: str) -> None:
    """Teardown must go on past a failing step; the failure is logged, not raised."""
    try:
        call()
    except Exception as exc:
        log.warning("%s failed: %s", what, exc)
