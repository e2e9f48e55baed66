"""The Raspberry Pi camera through picamera2: its low-resolution `lores` stream, Y plane only."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from moodpi.config import CameraConfig
from moodpi.perception.sources.base import CameraError, SourceBase, mirror, quietly
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


class Picamera2Source(SourceBase):
    """The Pi camera's low-resolution YUV420 `lores` stream; only its Y plane is kept (no colour
    conversion). `t` is the sensor timestamp (libcamera's SensorTimestamp) when present."""

    def __init__(
        self, config: CameraConfig, *, picamera2_factory: Callable[[], Any] | None = None
    ) -> None:
        super().__init__()
        self._config = config
        self._factory = picamera2_factory
        self._size = (config.width, config.height)
        self._cam: Any = None
        self._job: Any = None  # a capture request still in flight after a read timed out
        self._index = 0

    def describe(self) -> str:
        w, h = self._size
        return f"picamera2 lores Y {w}x{h} @ {self._config.fps:g} fps"

    def start(self) -> None:
        if self._cam is not None:
            return
        factory = self._factory or _picamera2_class()
        try:
            cam = factory()  # Picamera2() opens the camera
        except Exception as exc:
            raise CameraError(f"picamera2: cannot open the camera: {exc}") from exc
        try:
            size = (self._config.width, self._config.height)
            # The main stream is required; the same small size and YUV420 keep it cheap.
            cam.configure(
                cam.create_video_configuration(
                    main={"size": size, "format": "YUV420"},
                    lores={"size": size, "format": "YUV420"},
                    controls={"FrameRate": float(self._config.fps)},
                    display=None,
                    encode=None,
                )
            )
            cam.start()
            self._size = _lores_size(cam, size)
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
            yuv = request.make_array("lores")
            metadata = request.get_metadata()
        except Exception as exc:
            raise CameraError(f"picamera2: cannot read the lores buffer: {exc}") from exc
        finally:
            request.release()  # return the buffer to the camera at once
        return self._frame(yuv, metadata)

    def _frame(self, yuv: Any, metadata: Any) -> Frame | None:
        w, h = self._size
        # YUV420 arrives as (h * 3/2, stride): Y rows first, each padded to the stride.
        ok = isinstance(yuv, np.ndarray) and yuv.dtype == np.uint8 and yuv.ndim == 2
        if not ok or yuv.shape[0] < h or yuv.shape[1] < w:
            self.frames_bad += 1
            log.debug("picamera2: bad lores buffer %s", getattr(yuv, "shape", type(yuv)))
            return None
        grey = mirror(np.ascontiguousarray(yuv[:h, :w]), self._config.hflip)
        stamp_ns = metadata.get("SensorTimestamp") if isinstance(metadata, dict) else None
        t = stamp_ns / 1e9 if isinstance(stamp_ns, int) and stamp_ns > 0 else time.monotonic()
        self._index += 1
        return Frame(image=grey, t=t, index=self._index - 1)

    def stop(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        if self._job is not None and hasattr(cam, "cancel_all_and_flush"):
            quietly(cam.cancel_all_and_flush, "picamera2 cancel")
        self._job = None
        _close_camera(cam)


def _lores_size(cam: Any, requested: tuple[int, int]) -> tuple[int, int]:
    """The size libcamera granted (it may align the request), else the one asked for."""
    try:
        w, h = cam.camera_configuration()["lores"]["size"]
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
