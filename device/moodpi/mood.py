"""From noisy per-frame predictions to calm mood changes: a pure state machine, clock injected.

Every observation brings its own time `t` (frame-clock seconds); nothing here sleeps or reads a
clock, so the tracker is replayable and tested with tables of (t, probabilities) → changes.

How a mood is published:

1. Smoothing. Class probabilities are smoothed exponentially with a time constant in seconds,
   `alpha = 1 - exp(-dt / smoothing_s)`, so the tracker behaves the same at 5 and 30 fps.
2. Face time. Only frames with a face vote, and `dt` is the time since the previous frame of
   any kind: the time spent without a face neither ages the smoothed state nor counts towards
   the dwell. Someone looking away for a moment keeps their mood; nothing is decided while
   nobody is seen.
3. Candidate. The leader of the smoothed probabilities becomes the candidate once its smoothed
   probability reaches `threshold` and beats the current mood's by `switch_margin` (the
   hysteresis that keeps one misread face from flipping the mood). It must stay so for
   `min_dwell_s` of face time; it is then published, but never sooner than `min_interval_s`
   after the previous published change (a candidate kept waiting by the interval is published
   as soon as the interval has passed, if it still qualifies).
4. Presence. The first face turns presence on; `absent_after_s` without a face turns it off.
   Presence off is a clean slate: the smoothed state, the candidate and the current mood are
   forgotten, so the next person starts fresh and their first mood is published anew (also
   when it happens to equal the last one). The minimum interval still holds across the gap.
5. Several faces: `largest` lets the largest face vote; `group` averages the probabilities
   weighted by face area.

The defaults (moodpi.config.schema, MoodConfig) come from a grid scored like `make mood-bench`
for flicker, agreement and delay together (`make mood-grid`, lab/mood/grid.py, bench/mood_grid.json;
the first run of it is told in models/retired/MODEL_CARD_v2.md).

Predictions whose probabilities are not a finite vector of len(EMOTIONS) are ignored (one bad
frame must not poison the state). A time going backwards counts as dt = 0.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from moodpi.config import MoodConfig
from moodpi.types import EMOTIONS, Emotion, MoodChange, Observation, Prediction, PresenceChange

log = logging.getLogger(__name__)

Change = MoodChange | PresenceChange


class MoodTracker:
    def __init__(self, config: MoodConfig) -> None:
        self.config = config
        self._smoothed: np.ndarray | None = None
        self._face_clock_s = 0.0  # advances only on frames with a face
        self._last_t: float | None = None  # time of the previous observation, face or not
        self._last_face_t: float | None = None
        self._candidate: Emotion | None = None
        self._candidate_since_s = 0.0  # on the face clock
        self._current: MoodChange | None = None
        self._last_change_t: float | None = None
        self._present = False

    @property
    def current(self) -> MoodChange | None:
        """The mood in force, or None before the first one and after presence turned off."""
        return self._current

    @property
    def pending(self) -> Emotion | None:
        """The mood that qualifies and waits out its dwell or the minimum interval: about to be
        published unless the faces change their mind; None when nothing is about to change."""
        return self._candidate

    @property
    def present(self) -> bool:
        return self._present

    @property
    def smoothed(self) -> np.ndarray | None:
        """A copy of the smoothed probabilities, or None while nobody has been seen."""
        return None if self._smoothed is None else self._smoothed.copy()

    def update(self, obs: Observation) -> list[Change]:
        """Feed one frame's observation; returns the changes it caused, in order."""
        dt = 0.0 if self._last_t is None else max(0.0, obs.t - self._last_t)
        self._last_t = obs.t if self._last_t is None else max(self._last_t, obs.t)
        probs = combine(obs.predictions, self.config.faces)
        if probs is None:
            return self._no_face(obs.t)
        changes: list[Change] = []
        if not self._present:
            self._present = True
            changes.append(PresenceChange(True, obs.t))
        self._last_face_t = obs.t
        self._face_clock_s += dt
        self._smooth(probs, dt)
        mood = self._decide(obs.t)
        if mood is not None:
            changes.append(mood)
        return changes

    def _no_face(self, t: float) -> list[Change]:
        if not self._present or self._last_face_t is None:
            return []
        if t - self._last_face_t < self.config.absent_after_s - 1e-9:
            return []
        self._present = False
        self._smoothed = None
        self._candidate = None
        self._current = None
        return [PresenceChange(False, t)]

    def _smooth(self, probs: np.ndarray, dt: float) -> None:
        if self._smoothed is None:
            self._smoothed = probs.copy()  # a fresh start trusts the first face; dwell guards it
            return
        tau = self.config.smoothing_s
        alpha = 1.0 if tau <= 0 else 1.0 - math.exp(-dt / tau)
        self._smoothed += alpha * (probs - self._smoothed)

    def _qualifies(self, leader: int) -> bool:
        """Above the threshold, not the current mood, and ahead of it by the switch margin."""
        assert self._smoothed is not None
        if self._smoothed[leader] < self.config.threshold:
            return False
        if self._current is None:
            return True
        current = EMOTIONS.index(self._current.emotion)
        lead = self._smoothed[leader] - self._smoothed[current]
        return current != leader and lead >= self.config.switch_margin - 1e-9

    def _decide(self, t: float) -> MoodChange | None:
        assert self._smoothed is not None
        leader = int(np.argmax(self._smoothed))
        confidence = float(self._smoothed[leader])
        emotion = EMOTIONS[leader]
        if not self._qualifies(leader):
            self._candidate = None
            return None
        if emotion != self._candidate:
            self._candidate = emotion
            self._candidate_since_s = self._face_clock_s
        # A tiny epsilon: dwell is measured in sums of frame periods, which round.
        if self._face_clock_s - self._candidate_since_s < self.config.min_dwell_s - 1e-9:
            return None
        if (
            self._last_change_t is not None
            and t - self._last_change_t < self.config.min_interval_s - 1e-9
        ):
            return None
        change = MoodChange(emotion, confidence, t, tuple(float(p) for p in self._smoothed))
        self._current = change
        self._candidate = None
        self._last_change_t = t
        return change


def combine(predictions: Sequence[Prediction], faces: str = "largest") -> np.ndarray | None:
    """One probability vector for a frame: the largest face's, or the area-weighted mean."""
    valid = [p for p in predictions if _valid(p.probs)]
    if len(valid) < len(predictions):
        log.debug(
            "ignored %d prediction(s) with invalid probabilities", len(predictions) - len(valid)
        )
    if not valid:
        return None
    if faces == "group":
        weights = np.array([max(p.face.area, 1) for p in valid], dtype=np.float64)
        stacked = np.stack([np.asarray(p.probs, dtype=np.float64) for p in valid])
        probs = weights @ stacked / weights.sum()
    else:
        probs = np.asarray(max(valid, key=lambda p: p.face.area).probs, dtype=np.float64)
    total = probs.sum()
    return probs / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))


def _valid(probs: np.ndarray) -> bool:
    arr = np.asarray(probs)
    return (
        arr.shape == (len(EMOTIONS),) and bool(np.all(np.isfinite(arr))) and bool(np.all(arr >= 0))
    )
