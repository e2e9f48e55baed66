"""The doctor's checks of the devices the daemon holds: the camera (opens, reads frames: size,
fps, how far the setup sees) and the audio output.

While the daemon runs, its status file is fresh and it owns both: they are judged by what it
reports instead of being opened. Heavy imports (the camera sources, pygame) happen inside.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from moodpi import config as cfg
from moodpi.cli.doctor.check import FAIL, OK, SKIP, WARN, Check
from moodpi.cli.doctor.runtime import missing_library
from moodpi.system.quiet import native_quiet
from moodpi.system.status_reader import StatusReading

CAMERA_FRAMES = 10
CAMERA_DEADLINE_S = 5.0


def check_camera(config: cfg.Config, daemon: StatusReading) -> Check:
    if daemon.state == "running":
        data = daemon.data or {}
        return Check(
            "camera",
            SKIP,
            f"held by the running daemon ({data.get('state', '?')}, "
            f"{data.get('fps', '?')} fps): not opened; see moodpi status; {reach(config, daemon)}",
        )
    from moodpi.perception.sources import CameraError, SourceEnded, open_source

    hint = (
        "check the cable and camera.source (rpicam-hello --list-cameras, v4l2-ctl --list-devices)"
    )
    try:
        source = open_source(config.camera.source, config.camera)
        source.start()
    except (CameraError, ValueError, OSError, RuntimeError) as exc:
        return Check("camera", FAIL, f"cannot open {config.camera.source!r}: {exc}", hint)
    times: list[float] = []
    shape: tuple[int, ...] = ()
    deadline = time.monotonic() + CAMERA_DEADLINE_S
    try:
        while len(times) < CAMERA_FRAMES and time.monotonic() < deadline:
            try:
                frame = source.read(timeout_s=max(0.1, deadline - time.monotonic()))
            except SourceEnded:
                break
            if frame is not None:
                times.append(time.monotonic())
                shape = frame.image.shape
    except (CameraError, OSError, RuntimeError) as exc:
        return Check("camera", FAIL, f"{source.describe()}: reading failed: {exc}", hint)
    finally:
        with contextlib.suppress(Exception):
            source.stop()
    if not times:
        return Check(
            "camera", FAIL, f"{source.describe()}: no frame in {CAMERA_DEADLINE_S:.0f} s", hint
        )
    fps = (
        (len(times) - 1) / (times[-1] - times[0])
        if len(times) > 1 and times[-1] > times[0]
        else 0.0
    )
    detail = f"{source.describe()}: {shape[1]}x{shape[0]}, {fps:.1f} fps over {len(times)} frames"
    return Check("camera", OK, f"{detail}; {reach(config, daemon)}")


def reach(config: cfg.Config, daemon: StatusReading) -> str:
    """How far this setup sees: the farthest face the daemon found lately (its status file),
    and the limit faces.min_size_px sets at the configured width and field of view."""
    from moodpi.perception.detect.geometry import distance_m
    from moodpi.system.status_reader import sight

    camera, min_px = config.camera, config.faces.min_size_px
    limit = distance_m(min_px, camera.width, camera.hfov_deg)
    reach_m = float(getattr(config.faces, "reach_m", 0.0) or 0.0)  # the room sweep's own limit
    if 0 < reach_m < limit:
        limit = reach_m
    text = f"set up to find faces to about {limit:.1f} m ({camera.width} px wide, "
    text += f"{camera.hfov_deg:g}°, faces.min_size_px {min_px})"
    seen = sight(daemon.data) if daemon.data else "-"
    return text + ("" if seen == "-" else f"; daemon found {seen}")


def check_audio(config: cfg.Config, daemon: StatusReading) -> Check:
    if config.audio.output == "none":  # a box without a speaker, on purpose: nothing to open
        return Check("audio", SKIP, "off (audio.output = none)")
    if daemon.state == "running":
        return _daemon_audio(daemon.data or {})
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    driver = os.environ.get("SDL_AUDIODRIVER", "default")
    hint = "aplay -l lists the cards; set SDL_AUDIODRIVER/AUDIODEV (docs/operations.md)"
    try:
        import pygame

        with native_quiet():
            pygame.mixer.init()
        rate_hz, _size, channels = pygame.mixer.get_init() or (0, 0, 0)
        pygame.mixer.quit()
    except Exception as exc:
        # pygame says "mixer module not available (ImportError: libgthread-2.0.so.0: …)"
        missing = missing_library("audio", exc, "pygame's mixer does not load, no audio output")
        detail = f"no audio output (SDL_AUDIODRIVER={driver}): {exc}"
        return missing or Check("audio", FAIL, detail, hint)
    return Check("audio", OK, f"SDL_AUDIODRIVER={driver}: {rate_hz} Hz, {channels} channels")


def _daemon_audio(status: dict[str, Any]) -> Check:
    """The device is the daemon's: judge it by what the daemon reports instead of opening it."""
    if status.get("player") in (None, "off"):
        return Check("audio", SKIP, "held by the running daemon (no music library): not opened")
    if status.get("audio") is None:
        return Check("audio", SKIP, "the running daemon has sound switched off (--no-audio)")
    if status.get("audio") is False:
        hint = "aplay -l lists the cards; the daemon retries the device every minute at most"
        detail = "the running daemon has no audio device: tracks are silent"
        return Check("audio", WARN, detail, hint)
    return Check("audio", OK, "the running daemon plays through its audio device")
