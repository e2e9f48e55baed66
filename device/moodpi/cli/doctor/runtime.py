"""The doctor's check of the native stack: Python, NumPy, OpenCV, the TFLite runtime, pygame's
mixer, PyAV (the decoder of what the mixer cannot play) and, on a Pi, picamera2 import, and no
NumPy shadows the system's.

Heavy imports happen inside the check, so a broken native stack is reported here instead of
breaking the doctor.
"""

from __future__ import annotations

import importlib
import os
import platform

from moodpi.cli.doctor import native
from moodpi.cli.doctor.check import FAIL, OK, WARN, Check
from moodpi.cli.doctor.host import on_pi


def check_runtime(require_picamera2: bool = False) -> Check:
    """Python and the native stack import, and picamera2 where the camera needs it."""
    parts = [f"Python {platform.python_version()}"]
    try:
        import cv2
        import numpy

        from moodpi.perception.tflite import runtime

        parts += [f"NumPy {numpy.__version__}", f"OpenCV {cv2.__version__}", runtime().describe()]
    except ImportError as exc:
        missing = missing_library("runtime", exc, f"import failed: {exc}")
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
    try:
        parts.append(f"PyAV {importlib.import_module('av').__version__}")
    except ImportError as exc:  # only the formats the mixer cannot open are lost
        missing = missing_library("runtime", exc, "m4a, aac, wma and wv files do not play")
        return missing or Check(
            "runtime",
            WARN,
            f"PyAV does not import ({exc}): m4a, aac, wma and wv files do not play",
            "reinstall: sudo deploy/install.sh",
        )
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
        missing = missing_library("runtime", exc, "pygame's mixer does not load, music is silent")
        hint = "reinstall: sudo deploy/install.sh"
        return missing or Check("runtime", FAIL, f"pygame's mixer does not import: {exc}", hint)
    return None


def missing_library(name: str, exc: BaseException, effect: str) -> Check | None:
    """A loader error that names a missing system library → the Debian package to install."""
    library = native.missing_library(str(exc))
    if library is None:
        return None
    package = native.DEBIAN_PACKAGES.get(library, "unknown")
    detail = f"{library} is missing (Debian package {package}): {effect}"
    return Check(name, FAIL, detail, native.install_hint(library))
