"""The one place that imports a TFLite runtime.

LiteRT (`ai-edge-litert`) is preferred: it is the maintained successor of `tflite-runtime`, has
wheels for Python 3.11-3.13, and its int8 kernels use XNNPACK (about 14x faster per face here than
tflite-runtime 2.14). `tflite-runtime` 2.14 stays supported for older installs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodpi.system.quiet import native_quiet

# (import path of the module holding Interpreter, distribution name for reports)
_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
)


class RuntimeMissing(ImportError):
    """No TFLite runtime is installed."""


@dataclass(frozen=True)
class Runtime:
    name: str
    version: str
    interpreter_class: Any

    def describe(self) -> str:
        return f"{self.name} {self.version}"


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """Return the TFLite runtime in use, importing it on first call."""
    global _runtime
    if _runtime is None:
        _runtime = _import_runtime()
    return _runtime


def _import_runtime() -> Runtime:
    tried = []
    for module_name, dist in _CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            tried.append(f"{dist} ({exc})")
            continue
        return Runtime(dist, _dist_version(dist), module.Interpreter)
    raise RuntimeMissing(
        "no TFLite runtime found; install ai-edge-litert (or tflite-runtime on Python <= 3.11). "
        "Tried: " + "; ".join(tried)
    )


def _dist_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def load_interpreter(model_path: str | Path, num_threads: int = 1) -> Any:
    """Load a model and allocate its tensors; FileNotFoundError or ValueError name the path."""
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with native_quiet():  # "INFO: Created TensorFlow Lite XNNPACK delegate", to fd 2
            interpreter = runtime().interpreter_class(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"cannot load TFLite model {path}: {exc}") from exc
    return interpreter
