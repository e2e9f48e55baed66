"""Real faces for the detector tests: the BlazeFace model, and how well a box found overlaps the
place a face was put."""

from __future__ import annotations

import numpy as np

from moodpi.perception.detect.blazeface import iou
from moodpi.types import Face
from tests.support.daemon import REPO

BLAZEFACE = REPO / "models" / "face_detection_short_range.tflite"


def box_iou(a: Face, b: tuple[int, int, int, int]) -> float:
    """IoU of a face found and an (x, y, w, h) box."""
    one = np.array([a.x, a.y, a.x + a.w, a.y + a.h], float)
    other = np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]]], float)
    return float(iou(one, other)[0])
