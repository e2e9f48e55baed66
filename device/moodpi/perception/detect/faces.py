"""Face detection behind one small interface.

The rule here: the rest of perception sees only the FaceDetector protocol; which detector runs
is decided once, by make_detector from config.faces. BlazeFace (detect.blazeface) is the
default; OpenCV's Haar cascade (detect.haar) is the dependency-light alternative. What is done
with the faces found (pick, crop, lighting) is perception.crop's.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from moodpi.config import Config
from moodpi.perception.detect.geometry import face_width_px
from moodpi.perception.detect.haar import HAAR_CASCADE, HaarDetector
from moodpi.perception.detect.room import RoomDetector
from moodpi.perception.detect.whole_frame import WholeFrameDetector
from moodpi.types import Face


class FaceDetector(Protocol):
    def detect(self, grey: np.ndarray) -> list[Face]:
        """Faces in a (H, W) uint8 frame, boxes in frame pixels, best first."""
        ...


def make_detector(config: Config) -> FaceDetector:
    """The detector config.faces asks for (models are loaded on first use or open())."""
    faces = config.faces
    if faces.detector == "haar":
        cascade = config.model_path(faces.haar_cascade) if faces.haar_cascade else None
        if cascade is None:
            bundled = config.model_path(HAAR_CASCADE)
            cascade = bundled if bundled.is_file() else None
        return HaarDetector(cascade, min_size_px=faces.min_size_px)
    model = config.model_path(faces.model)
    if faces.reach_m <= 0:
        return WholeFrameDetector(model, min_score=faces.min_score, min_size_px=faces.min_size_px)
    return RoomDetector(
        model,
        min_score=faces.min_score,
        min_size_px=faces.min_size_px,
        smallest_face_px=face_width_px(faces.reach_m, config.camera.width, config.camera.hfov_deg),
        smallest_face_frac=face_width_px(faces.reach_m, 1.0, config.camera.hfov_deg),
        tiles_per_frame=faces.tiles_per_frame,
    )
