"""Frame sources, chosen by the scheme of `camera.source`: auto | picamera2 | v4l2 | replay."""

from __future__ import annotations

import os
from collections.abc import Callable

from moodpi.config import CameraConfig, ConfigError
from moodpi.perception.sources.base import CameraError, FrameSource, SourceEnded
from moodpi.perception.sources.picamera import Picamera2Source, probe_picamera2
from moodpi.perception.sources.replay import ReplaySource
from moodpi.perception.sources.v4l2 import VIDEO0, V4L2Source

__all__ = ["CameraError", "FrameSource", "SourceEnded", "open_source"]


def _replay(arg: str, config: CameraConfig) -> FrameSource:
    size = (config.width, config.height) if config.resize else None
    return ReplaySource(
        arg,
        fps=config.fps,
        realtime=config.realtime,
        loop=config.loop,
        size=size,
        hflip=config.hflip,
    )


def _v4l2(arg: str, config: CameraConfig) -> FrameSource:
    return V4L2Source(int(arg) if arg.isdigit() else arg, config)


# scheme -> factory(argument after the colon, camera config); nothing is opened by a factory.
SCHEMES: dict[str, Callable[[str, CameraConfig], FrameSource]] = {
    "picamera2": lambda _arg, config: Picamera2Source(config),
    "v4l2": _v4l2,
    "replay": _replay,
}


def open_source(
    spec: str,
    config: CameraConfig,
    *,
    picamera2_probe: Callable[[], str | None] = probe_picamera2,
    path_exists: Callable[[str], bool] = os.path.exists,
) -> FrameSource:
    """The source for `auto | picamera2 | v4l2:DEV | replay:PATH`; nothing is opened yet.

    An unknown spec is a ConfigError on `camera.source`; `auto` with no camera raises CameraError
    saying what it tried.
    """
    spec = spec.strip()
    if spec == "auto":
        return _auto(config, picamera2_probe, path_exists)
    scheme, _, arg = spec.partition(":")
    factory = SCHEMES.get(scheme)
    if factory is None or (scheme != "picamera2" and not arg):
        raise ConfigError(
            "camera.source",
            f"unknown camera source {spec!r}: expected auto, picamera2, v4l2:DEVICE or replay:PATH",
        )
    return factory(arg, config)


def _auto(
    config: CameraConfig,
    picamera2_probe: Callable[[], str | None],
    path_exists: Callable[[str], bool],
) -> FrameSource:
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
