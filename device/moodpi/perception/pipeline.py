"""One frame in, what was seen out: detect faces, pick, crop, normalise lighting, classify."""

from __future__ import annotations

import logging
import time

import numpy as np

from moodpi.config import Config
from moodpi.perception.classify.emotion import EmotionClassifier
from moodpi.perception.crop import crop_face, equalize, select_faces
from moodpi.perception.detect.faces import FaceDetector, make_detector
from moodpi.perception.image import to_grey
from moodpi.types import EMOTIONS, Face, Frame, Observation, Prediction

log = logging.getLogger(__name__)

MIN_FRAME_PX = 16  # smaller frames hold no face a detector could find
MIN_CROP_PX = 8  # a crop clipped by the frame edge to less than this says nothing about a mood
_EWMA_ALPHA = 0.05  # diagnostics average over roughly the last 20 frames


class Perception:
    """Detector + classifier, used from one thread (the main loop).

    `last_detect_ms` / `last_classify_ms` time the latest frame (classify: all its faces);
    `timings()` gives smoothed values for diagnostics.
    """

    def __init__(
        self,
        detector: FaceDetector,
        classifier: EmotionClassifier,
        *,
        select: str = "largest",
        margin: float = 0.1,
        shift_up: float = 0.0,
        equalize_mode: str = "none",
    ) -> None:
        if tuple(classifier.labels) != EMOTIONS:
            raise ValueError(
                f"emotion model labels {classifier.labels} are not the FER-2013 order {EMOTIONS}"
            )
        select_faces([], select)  # validates the policy name now, not on the first face
        equalize(np.zeros((2, 2), np.uint8), equalize_mode)
        self.detector = detector
        self.classifier = classifier
        self.select = select
        self.margin = margin
        self.shift_up = shift_up
        self.equalize_mode = equalize_mode
        self.last_detect_ms = 0.0
        self.last_classify_ms = 0.0
        self._avg_detect_ms: float | None = None
        self._avg_classify_ms: float | None = None
        self.frames = 0
        self.faces_classified = 0

    def observe(self, frame: Frame) -> Observation:
        """Predictions for the selected faces of one frame of a stream (none: nobody there).

        A streaming detector (RoomDetector) may take a few frames to find a far face.
        A malformed frame raises ValueError and leaves the state as it was.
        """
        return self._observe(frame, still=False)

    def observe_still(self, frame: Frame) -> Observation:
        """The same for a still image, where there is no next frame: every face in one call."""
        return self._observe(frame, still=True)

    def _observe(self, frame: Frame, *, still: bool) -> Observation:
        grey = to_grey(frame.image)
        if min(grey.shape) < MIN_FRAME_PX:
            raise ValueError(f"frame image too small: {grey.shape}")
        t0 = time.perf_counter()
        if still:
            found = self.detector.scan(grey)
        else:
            lores = None if frame.lores is None else to_grey(frame.lores)
            found = self.detector.detect(grey, lores)
        faces = select_faces(found, self.select)
        t1 = time.perf_counter()
        classified = tuple(self._classify(grey, face) for face in faces)
        t2 = time.perf_counter()
        predictions = tuple(p for p in classified if p is not None)
        self._record((t1 - t0) * 1000.0, (t2 - t1) * 1000.0)
        self.faces_classified += len(predictions)
        everyone = tuple(sorted(found, key=lambda f: (f.area, f.score), reverse=True))
        return Observation(t=frame.t, predictions=predictions, faces=everyone)

    def _classify(self, grey: np.ndarray, face: Face) -> Prediction | None:
        crop = crop_face(grey, face, self.margin, self.shift_up)
        if min(crop.shape) < MIN_CROP_PX:
            return None
        probs = self.classifier.classify(equalize(crop, self.equalize_mode))
        return Prediction(probs=probs, face=face)

    def _record(self, detect_ms: float, classify_ms: float) -> None:
        self.frames += 1
        self.last_detect_ms, self.last_classify_ms = detect_ms, classify_ms
        self._avg_detect_ms = _ewma(self._avg_detect_ms, detect_ms)
        self._avg_classify_ms = _ewma(self._avg_classify_ms, classify_ms)

    def timings(self) -> dict[str, float]:
        """Smoothed per-frame stage times (ms) for diagnostics; 0 before the first frame."""
        return {
            "detect_ms": round(self._avg_detect_ms or 0.0, 3),
            "classify_ms": round(self._avg_classify_ms or 0.0, 3),
        }


def _ewma(avg: float | None, value: float) -> float:
    return value if avg is None else avg + _EWMA_ALPHA * (value - avg)


def build_perception(config: Config) -> Perception:
    """Load both models now, so that a missing or wrong model fails at start, not on frame one."""
    detector = make_detector(config)
    detector.open()
    emotion = config.emotion
    classifier = EmotionClassifier.from_file(
        config.model_path(emotion.model),
        flip_average=emotion.flip_average,
        num_threads=emotion.num_threads,
    )
    faces = config.faces
    log.info(
        "perception: %s detector, faces=%s, margin=%.2f, equalize=%s",
        faces.detector,
        faces.select,
        faces.margin,
        faces.equalize,
    )
    return Perception(
        detector,
        classifier,
        select=faces.select,
        margin=faces.margin,
        shift_up=faces.shift_up,
        equalize_mode=faces.equalize,
    )
