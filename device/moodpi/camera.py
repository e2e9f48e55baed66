"""Camera sources behind one small interface: the Pi camera, V4L2 webcams, and choosing one.

`FrameSource` has three implementations: `Picamera2Source` (the Pi camera's `lores` Y plane),
`V4L2Source` (USB webcams through OpenCV) and `ReplaySource` (a video file or an image folder on
the replay clock). `open_source()` picks one from `camera.source`. `CaptureThread` owns a source
on its own thread: a live camera hands over only its newest frame (drops counted); a replay run as
fast as possible hands over every frame, so results on a replay are reproducible.

Frames are grey (H, W) uint8. Replays keep the file's own size unless `camera.resize` is set;
live sources ask the camera for `camera.width` x `camera.height`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, Protocol, Self, runtime_checkable

import cv2
import numpy as np

from moodpi.config import CameraConfig
from moodpi.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MIN_SIDE_PX = 8  # anything smaller is not a camera frame
VIDEO0 = "/dev/video0"
# OpenCV's V4L2 read waits up to this many whole seconds for a stalled camera (its default is 10),
# which bounds how long stopping the capture thread can take.
V4L2_SELECT_TIMEOUT_S = 1


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


def to_grey(image: object) -> np.ndarray | None:
    """An OpenCV grey/BGR/BGRA uint8 image as (H, W) grey; None for anything else."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return None
    if image.ndim == 2:
        return image
    channels = image.shape[2] if image.ndim == 3 else 0
    if channels == 1:
        return image[:, :, 0]
    if channels == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return None


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


# ---------------------------------------------------------------------------------------------
# Raspberry Pi camera


def _picamera2_class() -> Any:
    try:
        from picamera2 import Picamera2  # type: ignore[import-not-found]
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


def quietly(call: Callable[[], object], what: str) -> None:
    """Teardown must go on past a failing step; the failure is logged, not raised."""
    try:
        call()
    except Exception as exc:
        log.warning("%s failed: %s", what, exc)


# ---------------------------------------------------------------------------------------------
# USB webcams and other V4L2 devices


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
        grey = to_grey(image)
        if grey is None or not valid_image(grey):
            self.frames_bad += 1
            return None
        self._index += 1
        return Frame(mirror(grey, self._config.hflip), time.monotonic(), self._index - 1)

    def stop(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            quietly(cap.release, f"v4l2 {self._device} release")


# ---------------------------------------------------------------------------------------------
# Choosing a source


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


def open_source(
    spec: str,
    config: CameraConfig,
    *,
    picamera2_probe: Callable[[], str | None] = probe_picamera2,
    path_exists: Callable[[str], bool] = os.path.exists,
) -> FrameSource:
    """The source for `auto | picamera2 | v4l2:DEV | replay:PATH`; nothing is opened yet.

    Unknown specs raise ValueError; `auto` with no camera raises CameraError saying what it tried.
    """
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if spec == "auto":
        reason = picamera2_probe()
        if reason is None:
            return Picamera2Source(config)
        if path_exists(VIDEO0):
            return V4L2Source(VIDEO0, config)
        raise CameraError(
            f"camera.source = auto found no camera: tried picamera2 ({reason}); "
            f"tried {VIDEO0} (not present). Connect a camera, or set camera.source to "
            "v4l2:DEVICE or replay:PATH"
        )
    if spec == "picamera2":
        return Picamera2Source(config)
    if kind == "v4l2" and arg:
        return V4L2Source(int(arg) if arg.isdigit() else arg, config)
    if kind == "replay" and arg:
        size = (config.width, config.height) if config.resize else None
        from moodpi.replay import ReplaySource  # replay builds on this module's base classes

        return ReplaySource(
            arg,
            fps=config.fps,
            realtime=config.realtime,
            loop=config.loop,
            size=size,
            hflip=config.hflip,
        )
    raise ValueError(
        f"unknown camera source {spec!r}: expected auto, picamera2, v4l2:DEVICE or replay:PATH"
    )


