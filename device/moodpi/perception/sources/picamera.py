"""The Raspberry Pi camera through picamera2: two YUV420 streams, Y planes only.

Detect small, read large: the ISP scales the sensor's full field of view to both streams for
free. `main` (camera.width x camera.height, 1280x720 by default) is the frame the classifier's
crops are cut from; `lores` (a quarter of each side) goes with it in `Frame.lores`, so the
room detector's coarse passes need no software downscaling.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from moodpi.config import CameraConfig
from moodpi.perception.sources.base import CameraError, SourceBase, mirror, quietly
from moodpi.system.quiet import native_quiet
from moodpi.types import Frame

log = logging.getLogger(__name__)


def _picamera2_class() -> Any:
    try:
        from picamera2 import Picamera2
    except Exception as exc:  # ImportError, or libcamera failing to load underneath it
        raise CameraError(
            f"picamera2 is not importable ({exc}); on Raspberry Pi OS install python3-picamera2 "
            "and create the venv with --system-site-packages"
        ) from exc
    return Picamera2


LORES_DIVISOR = 4


class Picamera2Source(SourceBase):
    """The Pi camera's `main` and `lores` YUV420 streams; only their Y planes are kept (no colour
    conversion). `t` is the sensor timestamp (libcamera's SensorTimestamp) when present."""

    def __init__(
        self, config: CameraConfig, *, picamera2_factory: Callable[[], Any] | None = None
    ) -> None:
        super().__init__()
        self._config = config
        self._factory = picamera2_factory
        self._size = (config.width, config.height)
        self._lores_size = lores_size(self._size)
        self._cam: Any = None
        self._job: Any = None  # a capture request still in flight after a read timed out
        self._index = 0

    def describe(self) -> str:
        (w, h), (lw, lh) = self._size, self._lores_size
        return f"picamera2 main Y {w}x{h} + lores {lw}x{lh} @ {self._config.fps:g} fps"

    def start(self) -> None:
        if self._cam is not None:
            return
        factory = self._factory or _picamera2_class()
        try:
            with native_quiet():  # libcamera's own log lines
                cam = factory()  # Picamera2() opens the camera
        except Exception as exc:
            raise CameraError(f"picamera2: cannot open the camera: {exc}") from exc
        try:
            size = (self._config.width, self._config.height)
            cam.configure(
                cam.create_video_configuration(
                    main={"size": size, "format": "YUV420"},
                    lores={"size": lores_size(size), "format": "YUV420"},
                    controls={"FrameRate": float(self._config.fps)},
                    display=None,
                    encode=None,
                )
            )
            cam.start()
            self._size = _granted(cam, "main", size)
            self._lores_size = _granted(cam, "lores", lores_size(size))
        except Exception as exc:
            _close_camera(cam)
            raise CameraError(f"picamera2: cannot start the camera: {exc}") from exc
        self._cam = cam
        self._job = None

    def read(self, timeout_s: float) -> Frame | None:
        cam = self._cam
        if cam is None:
            raise CameraError("picamera2 source read before start()")
        try:
            if self._job is None:
                self._job = cam.capture_request(wait=False)
            request = cam.wait(self._job, timeout=timeout_s)
        except TimeoutError:
            # Picamera2.wait(job, timeout) is Job.get_result -> Future.result(timeout), whose
            # concurrent.futures.TimeoutError is the builtin one from Python 3.11 (Bookworm) on.
            return None  # the job stays in flight: the next read waits for the same request
        except Exception as exc:
            self._job = None
            raise CameraError(f"picamera2: capture failed: {exc}") from exc
        self._job = None
        try:
            main = _y_plane(request.make_array("main"), self._size)
            lores = _y_plane(request.make_array("lores"), self._lores_size)
            metadata = request.get_metadata()
        except Exception as exc:
            raise CameraError(f"picamera2: cannot read the camera buffers: {exc}") from exc
        finally:
            request.release()  # return the buffers to the camera at once
        return self._frame(main, lores, metadata)

    def _frame(self, main: Any, lores: Any, metadata: Any) -> Frame | None:
        if main is None:
            self.frames_bad += 1
            log.debug("picamera2: bad main buffer")
            return None
        grey = mirror(main, self._config.hflip)
        small = None if lores is None else mirror(lores, self._config.hflip)
        stamp_ns = metadata.get("SensorTimestamp") if isinstance(metadata, dict) else None
        t = stamp_ns / 1e9 if isinstance(stamp_ns, int) and stamp_ns > 0 else time.monotonic()
        self._index += 1
        return Frame(image=grey, t=t, index=self._index - 1, lores=small)

    def stop(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        if self._job is not None and hasattr(cam, "cancel_all_and_flush"):
            quietly(cam.cancel_all_and_flush, "picamera2 cancel")
        self._job = None
        _close_camera(cam)


def lores_size(main: tuple[int, int]) -> tuple[int, int]:
    """A quarter of each side, even (YUV420 halves the chroma planes), at least 64x48."""
    w, h = main
    return max(64, w // LORES_DIVISOR // 2 * 2), max(48, h // LORES_DIVISOR // 2 * 2)


def _y_plane(yuv: Any, size: tuple[int, int]) -> np.ndarray | None:
    """The Y plane of a YUV420 buffer, which arrives as (h * 3/2, stride) with every row padded
    to the stride; None if the buffer is not what was configured."""
    w, h = size
    ok = isinstance(yuv, np.ndarray) and yuv.dtype == np.uint8 and yuv.ndim == 2
    if not ok or yuv.shape[0] < h or yuv.shape[1] < w:
        return None
    return np.ascontiguousarray(yuv[:h, :w])


def _granted(cam: Any, stream: str, requested: tuple[int, int]) -> tuple[int, int]:
    """The size libcamera granted (it may align the request), else the one asked for."""
    try:
        w, h = cam.camera_configuration()[stream]["size"]
        return int(w), int(h)
    except Exception:
        return requested


def _close_camera(cam: Any) -> None:
    quietly(cam.stop, "picamera2 stop")
    quietly(cam.close, "picamera2 close")


def probe_picamera2() -> str | None:
    """None when picamera2 imports and libcamera lists a (non-USB) camera, else why not."""
    try:
        cameras = _picamera2_class().global_camera_info()
    except CameraError as exc:
        return str(exc)
    except Exception as exc:
        return f"picamera2 could not list cameras: {exc}"
    # libcamera lists USB webcams too; those have no lores stream and go through V4L2 instead.
    csi = [c for c in cameras if "usb" not in str(c.get("Id", "")).lower()]
    return None if csi else "libcamera found no Pi camera"
