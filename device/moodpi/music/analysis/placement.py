"""Descriptors (and tags) → a place on Russell's valence-arousal plane, with a confidence.

The model is data: `va_model.json` beside this file holds, for each variant ("audio"; "genre":
audio plus the genre tags), the feature names, their means and spread on the calibration set,
and one logistic regression per axis, fitted by `scripts/music/calibrate.py` on the
music-mood-dev clips (research use only; the clips never ship, these numbers do, with their
source named in the file). Each axis is 2 p - 1 of its regression, in -1..1.

Mood words in the tags are the listener's own judgement: they pull the point towards theirs,
by how many words agree, and raise the confidence.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from moodpi.music.analysis.tag_evidence import NO_TAGS, TagEvidence

MODEL_PATH = Path(__file__).with_name("va_model.json")
_TAG_WEIGHT_PER_WORD = 0.5  # one mood word weighs half as much as the audio; three, 1.5 times


@dataclass(frozen=True)
class Place:
    valence: float
    arousal: float
    confidence: float  # 0..1
    evidence: str  # "audio", "audio+genre", "+mood" appended when mood words moved it


@dataclass(frozen=True)
class _Axis:
    weights: tuple[float, ...]
    bias: float


@dataclass(frozen=True)
class _Variant:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    valence: _Axis
    arousal: _Axis

    def predict(self, values: dict[str, float]) -> tuple[float, float]:
        z = [(values.get(f, m) - m) / s for f, m, s in zip(self.features, self.mean, self.std,
                                                           strict=True)]  # fmt: skip
        return _signed(self.valence, z), _signed(self.arousal, z)


class PlacementModel:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["model"])
        self.genres = tuple(str(g) for g in spec.get("genres", ()))
        self._variants = {name: _variant(v) for name, v in spec["variants"].items()}

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> PlacementModel:
        return _load(str(path))

    def place(self, vector: dict[str, float], tags: TagEvidence = NO_TAGS) -> Place:
        known = [g for g in tags.genres if g in self.genres]
        variant = "genre" if known and "genre" in self._variants else "audio"
        values = {**vector, **{f"genre:{g}": 1.0 if g in known else 0.0 for g in self.genres}}
        valence, arousal = self._variants[variant].predict(values)
        confidence = 0.5 * (abs(valence) + abs(arousal)) * (0.8 if variant == "audio" else 0.9)
        evidence = "audio" if variant == "audio" else "audio+genre"
        if tags.mood_point is not None:
            weight = _TAG_WEIGHT_PER_WORD * tags.mood_words
            valence = (valence + weight * tags.mood_point[0]) / (1 + weight)
            arousal = (arousal + weight * tags.mood_point[1]) / (1 + weight)
            confidence = min(1.0, confidence + 0.2 * min(tags.mood_words, 3))
            evidence += "+mood"
        return Place(round(valence, 4), round(arousal, 4), round(confidence, 4), evidence)


@lru_cache(maxsize=4)
def _load(path: str) -> PlacementModel:
    return PlacementModel(json.loads(Path(path).read_text(encoding="utf-8")))


def _variant(spec: dict[str, Any]) -> _Variant:
    def axis(a: dict[str, Any]) -> _Axis:
        return _Axis(tuple(float(w) for w in a["weights"]), float(a["bias"]))

    return _Variant(
        features=tuple(spec["features"]),
        mean=tuple(float(m) for m in spec["mean"]),
        std=tuple(max(float(s), 1e-9) for s in spec["std"]),
        valence=axis(spec["valence"]),
        arousal=axis(spec["arousal"]),
    )


def _signed(axis: _Axis, z: list[float]) -> float:
    logit = axis.bias + sum(w * x for w, x in zip(axis.weights, z, strict=True))
    return 2.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit)))) - 1.0
