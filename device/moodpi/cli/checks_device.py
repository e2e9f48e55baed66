"""The doctor's checks of this machine: runtime, models, camera, audio, disk, temperature, power.

Also the Check every doctor check returns, shared by checks_home and the report in doctor. The
rule here: a check never raises for what it finds, it returns one Check (ok, warn, fail or skip)
with a hint a person on an SSH session can act on; and a device the running daemon holds (the
camera, the audio output) is never opened, it is judged by what the daemon's status file says.
Heavy imports (cv2, numpy, the TFLite runtime, pygame, the camera sources) happen inside the
checks, so a broken native stack is reported by check_runtime instead of breaking the doctor.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodpi import config as cfg
from moodpi.cli import checks_native as native
from moodpi.cli.face_png import FACE_PNG_B64
from moodpi.system.board import (
    THERMAL,
    THROTTLED,
    cpu_temperature_c,
    throttle_reasons,
    throttled_flags,
)
from moodpi.system.status_reader import StatusReading

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
PI_MODEL = Path("/proc/device-tree/model")
CAMERA_FRAMES = 10
CAMERA_DEADLINE_S = 5.0
DISK_WARN_BYTES = 500 * 1024**2
DISK_FAIL_BYTES = 50 * 1024**2
TEMP_WARN_C = 70.0  # the firmware starts to throttle at 80 (Pi 4) / 85 (Pi 5)
TEMP_FAIL_C = 80.0


@dataclass(frozen=True)
class Check:
    name: str
    level: str
    detail: str
    hint: str = ""

    def line(self) -> str:
        text = f"{self.level:<5} {self.name:<8} {self.detail}"
        if self.hint and self.level in (WARN, FAIL):
            text += f"\n{'':14}hint: {self.hint}"
        return text


def on_pi() -> bool:
    try:
        return "Raspberry Pi" in PI_MODEL.read_text(errors="replace")
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# Runtime and models


def check_runtime(require_picamera2: bool = False) -> Check:
    """Python and the native stack import, and picamera2 where the camera needs it."""
    parts = [f"Python {platform.python_version()}"]
    try:
        import cv2
        import numpy

        from moodpi.perception.tflite import runtime

        parts += [f"NumPy {numpy.__version__}", f"OpenCV {cv2.__version__}", runtime().describe()]
    except ImportError as exc:
        missing = _missing_library("runtime", exc, f"import failed: {exc}")
        hint = "reinstall: sudo deploy/install.sh"
        return missing or Check("runtime", FAIL, f"import failed: {exc}", hint)
    shadow = native.numpy_shadow()
    if shadow is not None:
        detail = (
            f"NumPy {shadow.used_version} in {shadow.used_dir} shadows the system's "
            f"{shadow.hidden_version} ({shadow.hidden_dir})"
        )
        if shadow.dependents:
            detail += f", which {', '.join(shadow.dependents)} are compiled against"
        level = FAIL if shadow.breaks() else WARN
        return Check("runtime", level, detail, native.shadow_hint(shadow))
    mixer = _mixer_import()
    if mixer is not None:
        return mixer
    if require_picamera2 or on_pi():
        try:
            importlib.import_module("picamera2")
            parts.append("picamera2")
        except (
            Exception
        ) as exc:  # Debian's picamera2 against a venv's NumPy fails here, not at import of numpy
            level = FAIL if require_picamera2 else WARN
            hint = "sudo apt install python3-picamera2; the venv must keep the system's NumPy"
            return Check("runtime", level, f"picamera2 does not import: {exc}", hint)
    return Check("runtime", OK, ", ".join(parts))


def _mixer_import() -> Check | None:
    """pygame's mixer loads system libraries a minimal image may lack: the daemon then plays
    nothing. Importing it opens no device."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        importlib.import_module("pygame.mixer")
    except ImportError as exc:
        missing = _missing_library("runtime", exc, "pygame's mixer does not load, music is silent")
        hint = "reinstall: sudo deploy/install.sh"
        return missing or Check("runtime", FAIL, f"pygame's mixer does not import: {exc}", hint)
    return None


def _missing_library(name: str, exc: BaseException, effect: str) -> Check | None:
    """A loader error that names a missing system library → the Debian package to install."""
    library = native.missing_library(str(exc))
    if library is None:
        return None
    package = native.DEBIAN_PACKAGES.get(library, "unknown")
    detail = f"{library} is missing (Debian package {package}): {effect}"
    return Check(name, FAIL, detail, native.install_hint(library))


def bundled_face() -> Any:
    """A 48x48 grey FER-2013 face the model should call happy (tests/fixtures/faces)."""
    import cv2
    import numpy as np

    data = np.frombuffer(base64.b64decode("".join(FACE_PNG_B64)), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


def check_emotion_model(config: cfg.Config) -> Check:
    from moodpi.perception.emotion import EmotionClassifier
    from moodpi.types import EMOTIONS

    path = config.model_path(config.emotion.model)
    hint = f"emotion.model = {config.emotion.model!r} in {path.parent}; reinstall the models"
    try:
        classifier = EmotionClassifier.from_file(
            path, flip_average=config.emotion.flip_average, num_threads=config.emotion.num_threads
        )
    except (OSError, ValueError, ImportError) as exc:
        return Check("model", FAIL, f"cannot load {path}: {exc}", hint)
    if tuple(classifier.labels) != EMOTIONS:
        return Check("model", FAIL, f"{path.name} has labels {classifier.labels}", hint)
    face = bundled_face()
    classifier.classify(face)  # the first invoke pays for XNNPACK's set-up
    started = time.perf_counter()
    probs = classifier.classify(face)
    elapsed_ms = (time.perf_counter() - started) * 1000
    top = EMOTIONS[int(probs.argmax())]
    size = classifier.input_size
    detail = (
        f"{path.name}: {size}x{size} {classifier.input_dtype}, bundled happy face → {top} "
        f"{float(probs.max()):.2f} in {elapsed_ms:.1f} ms"
    )
    if top != "happy":
        return Check("model", WARN, detail, "the model misreads a clear face: check the model file")
    calibrated = classifier.sidecar.flip_average
    if calibrated is not None and calibrated != config.emotion.flip_average:
        hint = f"set emotion.flip_average = {str(calibrated).lower()} (its calibrated mode)"
        return Check("model", WARN, detail + "; confidences slightly off", hint)
    return Check("model", OK, detail)


def check_face_detector(config: cfg.Config) -> Check:
    import numpy as np

    from moodpi.perception.faces import make_detector

    detector: Any = make_detector(config)
    try:
        with contextlib.suppress(AttributeError):
            detector.open()
        faces = detector.detect(np.full((config.camera.height, config.camera.width), 128, np.uint8))
    except Exception as exc:
        hint = f"faces.detector = {config.faces.detector!r}, faces.model = {config.faces.model!r}"
        return Check("faces", FAIL, f"face detector does not run: {exc}", hint)
    finally:
        with contextlib.suppress(Exception):
            detector.close()
    return Check(
        "faces", OK, f"{config.faces.detector} detector runs ({len(faces)} faces in a blank frame)"
    )


# ---------------------------------------------------------------------------------------------
# Devices (left alone while the daemon holds them)


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
    from moodpi.perception.geometry import distance_m
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
    if daemon.state == "running":
        return _daemon_audio(daemon.data or {})
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    driver = os.environ.get("SDL_AUDIODRIVER", "default")
    hint = "aplay -l lists the cards; set SDL_AUDIODRIVER/AUDIODEV (docs/operations.md)"
    try:
        import pygame

        pygame.mixer.init()
        rate_hz, _size, channels = pygame.mixer.get_init() or (0, 0, 0)
        pygame.mixer.quit()
    except Exception as exc:
        # pygame says "mixer module not available (ImportError: libgthread-2.0.so.0: …)"
        missing = _missing_library("audio", exc, "pygame's mixer does not load, no audio output")
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


# ---------------------------------------------------------------------------------------------
# Disk and the Pi itself


def check_disk(config: cfg.Config) -> Check:
    path = config.state_path
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_mb = usage.free / 1024**2
    detail = f"{path}: {free_mb:,.0f} MB free of {usage.total / 1024**2:,.0f} MB"
    if not path.exists():
        detail += " (not created yet)"
    hint = "free space: sudo journalctl --vacuum-size=100M; lower history.retention_days"
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, detail, hint)
    if usage.free < DISK_WARN_BYTES:
        return Check("disk", WARN, detail, hint)
    return Check("disk", OK, detail)


def check_temperature(thermal: Path = THERMAL) -> Check:
    temp_c = cpu_temperature_c(thermal)
    if temp_c is None:
        return Check("temp", SKIP, f"no CPU temperature ({thermal} unreadable)")
    detail = f"CPU {temp_c:.1f} °C"
    hint = "add a heatsink or a fan, give the case some air"
    if temp_c >= TEMP_FAIL_C:
        return Check("temp", FAIL, detail + " (throttling)", hint)
    if temp_c >= TEMP_WARN_C:
        return Check("temp", WARN, detail, hint)
    return Check("temp", OK, detail)


def parse_throttled(text: str) -> Check:
    """`vcgencmd get_throttled` output ('throttled=0x50005') → a check."""
    try:
        return throttle_check(int(text.strip().split("=", 1)[1], 16))
    except (IndexError, ValueError):
        return Check("power", WARN, f"cannot read {text.strip()!r}")


def throttle_check(flags: int) -> Check:
    now, past = throttle_reasons(flags)
    hint = "use the official power supply and a short cable; cool the Pi"
    if now:
        return Check("power", FAIL, f"throttled=0x{flags:x}: {', '.join(now)}", hint)
    if past:
        return Check("power", WARN, f"throttled=0x{flags:x}: {', '.join(past)} since boot", hint)
    return Check("power", OK, "no under-voltage or throttling since boot")


def check_throttling(
    run: Callable[[list[str]], str] | None = None, sysfs: Path = THROTTLED
) -> Check:
    """The firmware's flags from sysfs, as the daemon reads them; else from `vcgencmd`."""
    flags = throttled_flags(sysfs) if run is None else None
    if flags is not None:
        return throttle_check(flags)
    vcgencmd = shutil.which("vcgencmd")
    if run is None and vcgencmd is None:
        return Check("power", SKIP, f"no {sysfs} and no vcgencmd")

    def default_run(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
        return done.stdout

    try:
        return parse_throttled((run or default_run)([vcgencmd or "vcgencmd", "get_throttled"]))
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("power", SKIP, f"vcgencmd get_throttled failed: {exc}")
