"""USB webcams and other V4L2 devices, through OpenCV."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import cv2

from moodpi.config import CameraConfig
from moodpi.perception.sources.base import CameraError, SourceBase, mirror, quietly, usable_grey
from moodpi.system.quiet import native_quiet
from moodpi.types import Frame

log = logging.getLogger(__name__)

VIDEO0 = "/dev/video0"
# OpenCV's V4L2 read waits up to this many whole seconds for a stalled camera (its default is 10),
# which bounds how long stopping the capture thread can take.
V4L2_SELECT_TIMEOUT_S = 1


class V4L2Source(SourceBase):
    """A V4L2 device through OpenCV, by index (`0`) or path (`/dev/video0`). `t` is
    time.monotonic() when the frame arrived. A read waits up to V4L2_SELECT_TIMEOUT_S whatever
    timeout_s asks (OpenCV's V4L2 backend has no per-read timeout)."""

    def __init__(self, device: int | str, config: CameraConfig) -> None:
        super().__init__()
        self._device = device
        self._config = config
        self._cap: Any = None
        self._index = 0
        self.read_failures = 0

    def describe(self) -> str:
        c = self._config
        return f"v4l2 {self._device} {c.width}x{c.height} @ {c.fps:g} fps"

    def start(self) -> None:
        if self._cap is not None:
            return
        # Read once by OpenCV on its first V4L2 capture; an operator's own setting wins.
        os.environ.setdefault("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", str(V4L2_SELECT_TIMEOUT_S))
        with native_quiet():
            cap = cv2.VideoCapture(self._device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(
                f"cannot open V4L2 device {self._device!r} "
                "(is it plugged in, and is the user in the 'video' group?)"
            )
        c = self._config
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, c.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, c.height),
            (cv2.CAP_PROP_FPS, c.fps),
            (cv2.CAP_PROP_BUFFERSIZE, 1),  # fewer queued buffers: fresher frames
        ):
            cap.set(prop, float(value))
        self._cap = cap

    def read(self, timeout_s: float) -> Frame | None:
        if self._cap is None:
            raise CameraError("v4l2 source read before start()")
        try:
            ok, image = self._cap.read()
        except cv2.error as exc:
            raise CameraError(f"v4l2 {self._device}: read failed: {exc}") from exc
        if not ok or image is None:
            self.read_failures += 1
            time.sleep(min(timeout_s, 0.05))  # an unplugged device fails at once: don't spin
            return None
        grey = usable_grey(image)
        if grey is None:
            self.frames_bad += 1
            return None
        self._index += 1
        return Frame(mirror(grey, self._config.hflip), time.monotonic(), self._index - 1)

    def stop(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            quietly(cap.release, f"v4l2 {self._device} release")
