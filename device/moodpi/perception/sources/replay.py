"""Replay source: a video file or a folder of images played on the replay clock (t = index / fps).

Used by tests, benchmarks and the demo, and by anyone tuning the debounce on recorded footage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodpi.perception.sources.base import (
    IMAGE_SUFFIXES,
    CameraError,
    SourceBase,
    SourceEnded,
    mirror,
    quietly,
    usable_grey,
)
from moodpi.perception.sources.frame_files import MAX_FRAME_PIXELS, FrameRefused, read_frame_file
from moodpi.system.quiet import native_quiet
from moodpi.types import Frame

log = logging.getLogger(__name__)


class ReplaySource(SourceBase):
    """A video file (anything OpenCV reads) or a folder of png/jpg/jpeg/bmp images in name order
    (use zero-padded names), at `fps`.

    `t = index / fps`, where `index` is the frame's position in the replay (it keeps growing when
    looping; a skipped bad frame leaves a gap), so downstream timing is reproducible. `realtime`
    paces frames to the wall clock; otherwise they come as fast as they decode. read() returns
    None when nothing is due within timeout_s or when the frame at this position was bad (counted
    in `frames_bad`), and raises SourceEnded at the end unless `loop`. `size` (w, h) resizes
    frames; None keeps the input's own size.
    """

    is_replay = True

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float,
        realtime: bool = False,
        loop: bool = False,
        size: tuple[int, int] | None = None,
        hflip: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if fps <= 0:
            raise ValueError(f"replay fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.realtime = realtime
        self.loop = loop
        self._size = size
        self._hflip = hflip
        self._clock = clock
        self._sleep = sleep
        self._started = False
        self._files: list[Path] = []
        self._file_pos = 0
        self._is_video = False
        self._cap: Any = None
        self._pending: np.ndarray | None = None  # first video frame, read by start() to check
        self._position = 0
        self._good_this_pass = 0
        self._t0: float | None = None  # wall-clock time of position 0 (realtime pacing)

    def describe(self) -> str:
        pace = "realtime" if self.realtime else "as fast as possible"
        return f"replay {self.path} @ {self.fps:g} fps, {pace}{', loop' if self.loop else ''}"

    def start(self) -> None:
        if self._started:
            return
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir() if _is_image(p))
            if not self._files:
                raise CameraError(
                    f"replay folder {self.path} holds no images ({', '.join(IMAGE_SUFFIXES)})"
                )
        elif self.path.is_file():
            self._cap = self._open_video()
            self._is_video = True
        else:
            raise CameraError(f"replay path not found: {self.path}")
        self._file_pos = self._position = self._good_this_pass = 0
        self._t0 = None
        self._started = True

    def _open_video(self) -> Any:
        with native_quiet():
            cap = cv2.VideoCapture(str(self.path))
        pixels = cap.get(cv2.CAP_PROP_FRAME_WIDTH) * cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if pixels > MAX_FRAME_PIXELS:  # refused before the first frame is decoded
            cap.release()
            raise CameraError(
                f"replay video {self.path}: frames of {pixels / 1e6:.0f} M pixels, over the "
                f"limit of {MAX_FRAME_PIXELS / 1e6:.1f} M"
            )
        ok, image = cap.read() if cap.isOpened() else (False, None)
        if not ok or image is None:
            cap.release()
            raise CameraError(f"cannot read replay video {self.path} (not a video OpenCV decodes)")
        self._pending = image
        return cap

    def read(self, timeout_s: float) -> Frame | None:
        if not self._started:
            raise CameraError("replay source read before start()")
        if self.realtime and not self._wait_until_due(timeout_s):
            return None
        image = self._next_image()
        position = self._position
        self._position += 1
        return self._frame(image, position)

    def _wait_until_due(self, timeout_s: float) -> bool:
        now = self._clock()
        if self._t0 is None or now - self._due(self._position) > 1.0:
            # First frame, or more than a second behind (a stalled consumer): re-anchor the
            # schedule so the replay does not burst to catch up.
            self._t0 = now - self._position / self.fps
        delay = self._due(self._position) - now
        if delay > timeout_s:
            self._sleep(timeout_s)
            return False
        if delay > 0:
            self._sleep(delay)
        return True

    def _due(self, position: int) -> float:
        assert self._t0 is not None
        return self._t0 + position / self.fps

    def _next_image(self) -> np.ndarray | None:
        """The raw image at the current position (None: unreadable); ends or wraps at the end."""
        if self._is_video:
            return self._next_video_image()
        if self._file_pos >= len(self._files):
            self._end_of_pass()
            self._file_pos = 0
        path = self._files[self._file_pos]
        self._file_pos += 1
        try:  # bounded: the header's size is checked before anything is decoded
            return read_frame_file(path)
        except FrameRefused as exc:
            log.warning("replay: skipping %s", exc)  # counted in frames_bad by _frame()
            return None

    def _next_video_image(self) -> np.ndarray | None:
        image: np.ndarray | None
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        if self._cap is None:
            raise CameraError(f"replay video {self.path} could not be reopened")
        try:
            ok, image = self._cap.read()
            if not ok:
                self._end_of_pass()
                cap, self._cap = self._cap, None
                cap.release()
                self._cap = self._open_video()  # reopening rewinds more reliably than seeking
                image, self._pending = self._pending, None
        except cv2.error as exc:
            raise CameraError(f"replay video {self.path}: read failed: {exc}") from exc
        return image

    def _end_of_pass(self) -> None:
        if not self.loop:
            raise SourceEnded(str(self.path))
        if self._good_this_pass == 0:
            # Looping over nothing but bad frames would spin for ever.
            raise CameraError(f"replay {self.path}: no readable frame in a whole pass")
        self._good_this_pass = 0

    def _frame(self, image: np.ndarray | None, position: int) -> Frame | None:
        grey = usable_grey(image)
        if grey is None:
            self.frames_bad += 1
            return None
        if self._size is not None and grey.shape != (self._size[1], self._size[0]):
            grey = cv2.resize(grey, self._size, interpolation=cv2.INTER_AREA)
        self._good_this_pass += 1
        return Frame(image=mirror(grey, self._hflip), t=position / self.fps, index=position)

    def stop(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            quietly(cap.release, f"replay {self.path} release")
        self._pending = None
        self._files = []
        self._is_video = False
        self._started = False


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
