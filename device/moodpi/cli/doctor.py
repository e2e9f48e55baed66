"""`moodpi doctor`: is this device able to do its job? One line per check, for an SSH session.

Checks: runtime (Python, NumPy, OpenCV, the TFLite runtime, picamera2 on a Pi), camera (opens,
reads frames: size and fps), models (load, shapes, one classification of a bundled face), audio
output, music library, broker (connects with the configured TLS and credentials), disk space of
the state directory, and on a Pi the CPU temperature and throttling flags. Each prints ok, warn,
fail or skip with a one-line hint; the exit status is 1 when any check fails.

It works with the daemon running: when the status file is fresh the daemon owns the camera and
the audio device, so those two checks report what the daemon says instead of opening them.
`python -m moodpi.cli.doctor --smoke` runs only the runtime and model checks (deploy/install.sh ends
with it).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodpi import config as cfg
from moodpi.system.board import (
    THERMAL,
    THROTTLED,
    cpu_temperature_c,
    throttle_reasons,
    throttled_flags,
)
from moodpi.system.status import StatusReading, read_status, status_path

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
PI_MODEL = Path("/proc/device-tree/model")
CAMERA_FRAMES = 10
CAMERA_DEADLINE_S = 5.0
BROKER_TIMEOUT_S = 5.0
SCAN_DEADLINE_S = 60.0
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
        return Check("runtime", FAIL, f"import failed: {exc}", "reinstall: sudo deploy/install.sh")
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


def bundled_face() -> Any:
    """A 48x48 grey FER-2013 face the model should call happy (tests/fixtures/faces)."""
    import cv2
    import numpy as np

    data = np.frombuffer(base64.b64decode("".join(_FACE_PNG_B64)), np.uint8)
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
            f"{data.get('fps', '?')} fps): not opened; see moodpi status",
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
    return Check("camera", OK, detail)


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
        return Check("audio", FAIL, f"no audio output (SDL_AUDIODRIVER={driver}): {exc}", hint)
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
# Library, broker, disk, the Pi itself


def check_music(config: cfg.Config) -> Check:
    from moodpi.music.library import Library, empty_mapped_categories, library_from_config

    library = library_from_config(config)
    if not library.configured:
        return Check(
            "music",
            WARN,
            "no library: music.root and music.playlists are empty",
            "set music.root (e.g. /var/lib/moodpi/music) in /etc/moodpi/config.toml",
        )
    cache = library.cache_path
    if cache is not None and not _writable(cache):
        library = Library(library.root, library.playlists_dir, None)  # scan in memory, read-only
    stop = threading.Event()
    timer = threading.Timer(SCAN_DEADLINE_S, stop.set)
    timer.start()
    try:
        report = library.scan(stop_event=stop)
    except Exception as exc:
        return Check("music", FAIL, f"cannot scan the library: {exc}", "check music.root")
    finally:
        timer.cancel()
    counts = ", ".join(f"{c} {n}" for c, n in report.categories.items()) or "no tracks"
    detail = f"{report.tracks} tracks ({counts}); {report.unreadable} unreadable"
    empty = empty_mapped_categories(config.music, library)
    if report.tracks == 0:
        return Check(
            "music",
            WARN,
            detail,
            f"copy music into {config.music.root or config.music.playlists}/<category>/",
        )
    if report.unreadable or empty or not report.complete:
        extra = f"; no tracks for {', '.join(empty)}" if empty else ""
        return Check("music", WARN, detail + extra, "moodpi library show lists the categories")
    return Check("music", OK, detail)


def _writable(path: Path) -> bool:
    return os.access(path if path.exists() else path.parent, os.W_OK)


def check_broker(config: cfg.Config, timeout_s: float = BROKER_TIMEOUT_S) -> Check:
    mqtt = config.mqtt
    if not mqtt.host:
        return Check("broker", SKIP, "MQTT is off (mqtt.host is empty)")
    from moodpi.link import client as link

    where = f"{mqtt.host}:{mqtt.port}{' (TLS)' if mqtt.tls_ca else ''}"
    try:
        password = link.read_password(mqtt)
        # Its own client id: reusing the daemon's would make the broker drop the daemon.
        client = link.make_client(mqtt, f"moodpi-doctor-{os.getpid()}", password)
    except cfg.ConfigError as exc:
        return Check("broker", FAIL, str(exc), "fix the mqtt section of the config")
    answered = threading.Event()
    result: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result.append(link.refusal_message(reason, mqtt) if reason.is_failure else "")
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect_async(mqtt.host, mqtt.port, keepalive=mqtt.keepalive)
        client.loop_start()
        if not answered.wait(timeout_s):
            return Check(
                "broker",
                FAIL,
                f"no answer from {where} in {timeout_s:.0f} s",
                "is the broker up and reachable from here? (firewall, TLS port)",
            )
    finally:
        with contextlib.suppress(Exception):
            client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_stop()
    if result and result[0]:
        return Check("broker", FAIL, result[0], "check mqtt.username and the password")
    return Check(
        "broker", OK, f"connected to {where}" + (f" as {mqtt.username}" if mqtt.username else "")
    )


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


# ---------------------------------------------------------------------------------------------
# Running the checks


def run_checks(
    config: cfg.Config, daemon: StatusReading, pi: bool | None = None
) -> Iterable[Check]:
    pi = on_pi() if pi is None else pi
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("runtime", check_runtime),
        ("camera", lambda: check_camera(config, daemon)),
        ("model", lambda: check_emotion_model(config)),
        ("faces", lambda: check_face_detector(config)),
        ("audio", lambda: check_audio(config, daemon)),
        ("music", lambda: check_music(config)),
        ("broker", lambda: check_broker(config)),
        ("disk", lambda: check_disk(config)),
    ]
    if pi:
        steps += [("temp", check_temperature), ("power", check_throttling)]
    for name, step in steps:
        yield _guarded(name, step)


def smoke_checks(config: cfg.Config, require_picamera2: bool) -> Iterable[Check]:
    yield _guarded("runtime", lambda: check_runtime(require_picamera2))
    yield _guarded("model", lambda: check_emotion_model(config))
    yield _guarded("faces", lambda: check_face_detector(config))


def _guarded(name: str, step: Callable[[], Check]) -> Check:
    """One broken check is reported as a failure; it never stops the others."""
    try:
        return step()
    except Exception as exc:
        return Check(
            name, FAIL, f"check crashed: {type(exc).__name__}: {exc}", "please report this"
        )


def report(checks: Iterable[Check], out: Any = None) -> int:
    out = out or sys.stdout
    failed = 0
    for check in checks:
        print(check.line(), file=out, flush=True)
        failed += check.level == FAIL
    print(f"{failed} check(s) failed" if failed else "all checks passed", file=out)
    return 1 if failed else 0


def cli_doctor(args: argparse.Namespace) -> int:
    from moodpi.cli.config import config_file

    path = config_file(args)
    config = cfg.load(path)
    print(f"moodpi doctor: config {path or 'built-in defaults'}")
    daemon = read_status(status_path(config.state_path))
    if daemon.state == "running":
        print("the daemon is running: camera and audio are left to it")
    return report(run_checks(config, daemon))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m moodpi.cli.doctor", description=__doc__.splitlines()[0]
    )
    parser.add_argument("-c", "--config", help="TOML config")
    parser.add_argument("--smoke", action="store_true", help="runtime and model checks only")
    parser.add_argument("--require-picamera2", action="store_true", help="fail without picamera2")
    args = parser.parse_args(argv)
    try:
        if not args.smoke:
            return cli_doctor(args)
        from moodpi.cli.config import config_file

        config = cfg.load(config_file(args))
        return report(smoke_checks(config, args.require_picamera2))
    except cfg.ConfigError as exc:
        print(f"moodpi doctor: {exc}", file=sys.stderr)
        return cfg.EX_CONFIG


# happy_PublicTest_64135505.png from tests/fixtures/faces (FER-2013, research use), as base64.
_FACE_PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAADAAAAAwCAAAAAByaaZbAAAHaUlEQVRIDS3Ba4xU5RkH8P/zvu85Z86cOefMbWdmZy"
    "9ciguItk01pLXV9JLol2pqGtMmKNEKdYHiIuoqCBaCLSqgCIgIYk2b+qEf+qVNW5M2Bm1jW1dNL1pxMdxhuSx7m92d"
    "mXPe5yk2/f0oVE2/HTXDhcb1jR+6uXgtWLGCEHj3hT++X5FZrSaqfUujTRBiKjRhc2ayZ47rBl429jKPQoiJhHCVfe"
    "kX7+l4KtOk+Uu++JgCQPGM0y7o2WtKrqtqQaHjPrACKxadGiEIf/OtKJNeCefMv2YnhJiyEG3cTHcmdMNcsWMVWEMI"
    "/2O1ELD0PTdstOYvuOEpqwiUdZsuTFQpZFy3M+q+DxBKNWtLCoAQ047X/0EZVVq8ZIcCmHJIKUxy3VHGC6rZzUIQAs"
    "AKQGoghGfO/27Yt6W+BYfIQlMuMRzN5rvDMOPXCuvIamExVoMVrhLQ4fu/9+ak0/7SDdXNgFDUdhXP1svVyITF0kNC"
    "EBLWQqxYgRXA9Mref8UTS24qbFcA+S7atqxK9bwblrKDEAIrgBWErBaCgLYfOZJI/bZDBAjlbOo5SVQr5t24VFsjxA"
    "qsUoOrBCChxDz33lsj0He+roRAQYqsbdU6Srmg6FcHRJQVw0QQEhKCgLD1xF+PmuTWNwAhClPPmYqrucDLlHOZ4HF8"
    "hpUIiYIQsGWizGNvD5G+/n1AiGKrDTpKGcp6ECabRDeuZ4XPCAjLL3n5+kTz1FuW+v4NAijIpGkxVzFuQtncXE2nT6"
    "dR977UQKxB/1m9dCMOfZCO/eUC3zAEQCh2uRnHFeNY3dHtb07gPDtsXgKDCOtHe7dAW71rZOaN4/K1IwQI9Uy4orsK"
    "nibHD/KTucTNltayApCYwyvkwPjlQoJW9y8/jRf+Vgigmy8f48567CvDrjc+Pt30e4uL1xEr4EX9ybHxqZJ09GS23f"
    "lh95e3aQHR9z8dkp5qp8rpaZmZkhEP15Wyi+0DrOy+KyND6fQ3Gqc/17fh/nPVpasVK6bBE39r5Sv5TOBPj19ozTvm"
    "pHeUztRyKxThpyNd71ywPXqmdz8GJ3qfQGoA+kHv2yNUjLKdkl5ptgSIO5x6PP4oZN/FjuyZ9KSlavc6HBh7AqwgQn"
    "d3tv45mc+pSlbstKc5k1VOedUefwU9PxWveTltJdmxej/w0iohIYCWz/XfHi3asOxFTVi/5Ai3Bw/NDOzNjsyYrVYd"
    "bPjOSlYvDGz5MQFgWr7osYc/mTbZQlBiNyknjxCAPW7Tu9zRMA8qAPtXiQK2nj3IihXoO/mfrRtukVPMx54yKK4kVj"
    "gwkxjXv5jUV5AQWEFwV3DYCEho0dLFx08320Ghmi26A7AaENAzLd93aNw8REJgBeDm7B8IrEB00+2n9IczuahUqa6F"
    "UGoAyJa0+iDwrN1gdWrAJGpJ5U0kDoQy4S1fWX/3sSDsDLrWW50aALJzorgeV+1fLSBWQnjy5+Vbf0JIHHKShat/tO"
    "aDIHKK8+J+IUsg2pbTE5sIT5tHkBpAiFf9pnjjaxAClRr5W34l30riTDinYw0TAUgOqvGJ4uDeyWCtotRYvefB1b8O"
    "72i8aFjR3FnXrTvjbsVXxZpXWAGIKBxsu+2m9voVIAS8vHLt79vfxW4CqHfKdWc531GsqZIb5JRzrwOr8X+v3uOwAl"
    "jd9e65r7/xw4OiqCslYu0U691RbjMJyaGVrJEaAKxwoH/XwxAS+vbRU9cPDXQ+LlTDFIXtwJuzII4eV+BXhpp19urj"
    "G1g9f87OXsod1mAly/4+2fHhyye2M/nkEHnKry/Id2xA4mDjsJ8NrzhkmiqqXflo0XaGAu4fGg9u3aX3r6bSjHhJxE"
    "7c11XqudcA2HS57yECDl3aCDw3vJ+EgHtGRy9Wcn8CE3UnjWhGjC5W59YqD0PIvvaf0flPQIGhdozx0xASuk05H197"
    "9l0hoSWz532TaFXyu+r1cr9ihZ0nWtqPtgKPtnne+tSwGnyHoo9vH1rWbzV1OalVrZaXy/u9tfImIbDae7Id9j6w90"
    "x+PL+h7QJYdp6Dc+8vm7dNgXpItTRPZvJ5lKu1rrWwWujV4xlXj3EmGNBIDR77qGGked+9616Aoh5yhJNJPygqp6uS"
    "fwqAEK7a42GFhoBE7j7Zamr1AViBaY4DZaamTRCXp7O9QS2/RkgITCSiwAp48ejRxlgbqlaoLxwgmusp4kbLMfkSIy"
    "pUpW+lEKwiITCRYPfU8LnmxKTXjsJ24atbaDEJUbPRDuJCYG0Uq8r8B4RYsWIlJKDNs2cvTo+1le/63qzr03UEtsl0"
    "I87HRd10PVfqO0QBEBCsxrZRfelkMtbIpaFxtQhdT2KZJ0fL5SjOWdZWI1w0aDWYSGj/sbTI50+PzjRCRzmi4NDncV"
    "Uydrknn4sKTrPtmLZk5z8pogB+9sKkv2/n8MiFi74Rhz0C6Fqtud2yKLtevhiaaZkW03ajrAtKWuOoPG13n+Hjp6ac"
    "QIuhxKEvJGlqERaM6HxU6UzG0saUmxrYcDY1bn0jSHY13FN/HnOKOjVO67/0FE5+aLA87gAAAABJRU5ErkJggg=="
)

if __name__ == "__main__":
    sys.exit(main())
