"""Small frozen values passed between the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

# Every name that more than one stage knows is declared here, once: a Literal for the type
# checker and the config, and the tuple of its values for code that lists them.

# FER-2013 label order; the classifier's output index i is EMOTIONS[i].
Emotion = Literal["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
EMOTIONS: tuple[Emotion, ...] = get_args(Emotion)

# How the music answers a mood: play the mood itself, its target, or walk from one to the other.
Policy = Literal["mirror", "uplift", "iso"]
POLICIES: tuple[Policy, ...] = get_args(Policy)


def as_policy(name: str) -> Policy:
    """`name` as a Policy; ValueError naming the choices when it is none."""
    for policy in POLICIES:
        if policy == name:
            return policy
    raise ValueError(f"unknown policy {name!r} (one of {', '.join(POLICIES)})")


# Home Assistant discovery: one config topic per entity, one per device (HA >= 2024.12), or none.
DiscoveryMode = Literal["component", "device", "off"]
DISCOVERY_MODES: tuple[DiscoveryMode, ...] = get_args(DiscoveryMode)

# What may be sent to <base>/cmd/<name> (docs/mqtt.md).
CommandName = Literal["detection", "quiet_hours", "policy", "volume", "pause", "resume", "skip"]
COMMAND_NAMES: tuple[CommandName, ...] = get_args(CommandName)


@dataclass(frozen=True)
class Frame:
    """One grey camera frame. `t` is seconds on the source's clock (replays: frame index / fps)."""

    image: np.ndarray  # (H, W) uint8
    t: float
    index: int
    # The same view at lower resolution when the camera makes one for free (picamera2's lores
    # stream); detectors may use it for their coarse passes.
    lores: np.ndarray | None = None


@dataclass(frozen=True)
class Face:
    """A detected face: box in frame pixels (x, y, width, height) and detector score in [0, 1]."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    @property
    def area(self) -> int:
        return self.w * self.h


@dataclass(frozen=True)
class Prediction:
    """Class probabilities (len(EMOTIONS), summing to 1) for one face."""

    probs: np.ndarray
    face: Face

    @property
    def emotion(self) -> str:
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


@dataclass(frozen=True)
class Observation:
    """What perception saw in one frame: zero or more predictions, at time t.

    `faces` holds every face the detector found, largest first, also those the selection policy
    left unclassified (with `faces.select = "largest"` one face is read, but the room may hold
    more): for the face count and how far the camera sees.
    """

    t: float
    predictions: tuple[Prediction, ...] = field(default_factory=tuple)
    faces: tuple[Face, ...] = field(default_factory=tuple)

    @property
    def faces_seen(self) -> int:
        return len(self.faces)

    @property
    def face_present(self) -> bool:
        return bool(self.predictions)


@dataclass(frozen=True)
class MoodChange:
    emotion: Emotion
    confidence: float
    t: float
    probs: tuple[float, ...] = ()


@dataclass(frozen=True)
class PresenceChange:
    present: bool
    t: float
