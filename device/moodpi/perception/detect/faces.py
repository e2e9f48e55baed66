"""Face detection behind one small interface, chosen by name.

The rule here: the rest of perception sees only the FaceDetector protocol, which declares every
method the pipeline calls; which detector runs is decided once, by make_detector, from the
`faces.detector` name in DETECTORS. BlazeFace is the default: across a room (detect.room) or,
with `faces.reach_m = 0`, the whole frame in one pass (detect.whole_frame); OpenCV's Haar
cascade (detect.haar) is the dependency-light alternative. Whichever finds them, a box becomes a
face only after a second look (detect.verify, `faces.verify_model`). What is done with the faces
found (pick, crop, lighting) is perception.crop's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from moodpi.config import Config
from moodpi.perception.detect.geometry import face_width_px
from moodpi.perception.detect.haar import HAAR_CASCADE, HaarDetector
from moodpi.perception.detect.room import RoomDetector
from moodpi.perception.detect.verify import FaceVerifier
from moodpi.perception.detect.whole_frame import WholeFrameDetector
from moodpi.types import Face


class FaceDetector(Protocol):
    """Faces in grey (H, W) uint8 frames, boxes in frame pixels, best first."""

    def open(self) -> None:
        """Load the model now, so that a missing one fails at start (else on first use)."""
        ...

    def close(self) -> None: ...

    def detect(self, grey: np.ndarray, lores: np.ndarray | None = None) -> list[Face]:
        """Faces of one frame of a stream. `lores`: the same frame at a quarter of each side,
        when the camera made one (a detector may use it for its coarse passes)."""
        ...

    def scan(self, grey: np.ndarray) -> list[Face]:
        """Every face of a still image, where there is no next frame (a detector that looks at
        the whole frame at once: one detect)."""
        ...

    def reset(self) -> None:
        """Forget what earlier frames showed (a new scene)."""
        ...

    def sweep_frames(self, width: int, height: int) -> int:
        """Frames it takes to have looked at all of a width x height stream: the longest wait
        for a face that sits still."""
        ...

    @property
    def name(self) -> str:
        """What runs, for reports."""
        ...


PORTRAIT_SHARE = 0.4  # a face covering this much of a still is what the still was cut around


class VerifiedDetector:
    """A detector whose boxes count as faces only when the verifier agrees (detect.verify)."""

    def __init__(self, inner: FaceDetector, verifier: FaceVerifier) -> None:
        self.inner = inner
        self.verifier = verifier

    def open(self) -> None:
        self.inner.open()
        self.verifier.open()

    def close(self) -> None:
        self.inner.close()
        self.verifier.close()

    def detect(self, grey: np.ndarray, lores: np.ndarray | None = None) -> list[Face]:
        return self.verifier.verify(grey, self.inner.detect(grey, lores))

    def scan(self, grey: np.ndarray) -> list[Face]:
        found = self.inner.scan(grey)
        # A still cut around one face (a portrait crop, a film frame) was framed by a person:
        # clutter is a small part of a larger picture. Such a face is taken as it is; the
        # landmark model reads small, blurred crops that fill the picture badly (issue 28).
        portrait = [f for f in found if f.area >= PORTRAIT_SHARE * grey.shape[0] * grey.shape[1]]
        others = [f for f in found if f not in portrait]
        return portrait + self.verifier.verify(grey, others, still=True)

    def reset(self) -> None:
        self.inner.reset()
        self.verifier.reset()

    def sweep_frames(self, width: int, height: int) -> int:
        return self.inner.sweep_frames(width, height)

    @property
    def name(self) -> str:
        return f"{self.inner.name} + face landmark verifier"


def _blazeface(config: Config) -> FaceDetector:
    faces, camera = config.faces, config.camera
    model = config.model_path(faces.model)
    if faces.reach_m <= 0:
        return WholeFrameDetector(model, min_score=faces.min_score, min_size_px=faces.min_size_px)
    return RoomDetector(
        model,
        min_score=faces.min_score,
        min_size_px=faces.min_size_px,
        smallest_face_px=face_width_px(faces.reach_m, camera.width, camera.hfov_deg),
        smallest_face_frac=face_width_px(faces.reach_m, 1.0, camera.hfov_deg),
        tiles_per_frame=faces.tiles_per_frame,
    )


def _haar(config: Config) -> FaceDetector:
    faces = config.faces
    cascade = config.model_path(faces.haar_cascade) if faces.haar_cascade else None
    if cascade is None:
        bundled = config.model_path(HAAR_CASCADE)
        cascade = bundled if bundled.is_file() else None
    return HaarDetector(cascade, min_size_px=faces.min_size_px)


# faces.detector -> factory(config); nothing is loaded by a factory.
DETECTORS: dict[str, Callable[[Config], FaceDetector]] = {
    "blazeface": _blazeface,
    "haar": _haar,
}


def make_detector(config: Config) -> FaceDetector:
    """The detector config.faces asks for, behind the verifier unless `faces.verify_model` is
    empty (models are loaded by open() or on first use)."""
    detector = DETECTORS[config.faces.detector](config)
    faces = config.faces
    if not faces.verify_model:
        return detector
    verifier = FaceVerifier(config.model_path(faces.verify_model), min_score=faces.verify_min_score)
    return VerifiedDetector(detector, verifier)
