"""Which faces, the crop, and its lighting: pure functions of a grey frame and Face boxes, so
they behave the same whichever detector found the faces."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from moodpi.types import Face


def select_faces(faces: Sequence[Face], policy: str = "largest") -> list[Face]:
    """`largest`: the biggest face (ties: higher score); `all`: every face, largest first."""
    if policy not in ("largest", "all"):
        raise ValueError(f"unknown face selection policy {policy!r} (largest | all)")
    ordered = sorted(faces, key=lambda f: (f.area, f.score), reverse=True)
    return ordered[:1] if policy == "largest" else ordered


def crop_face(
    grey: np.ndarray, face: Face, margin: float = 0.0, shift_up: float = 0.0
) -> np.ndarray:
    """The face box grown by `margin` (fraction of its size) on each side and moved up by
    `shift_up` (fraction of its height), clipped to the frame.

    BlazeFace boxes run from the brows to the chin while FER-2013 faces, which the classifier
    learnt from, include the forehead: a small upward shift matches them better.
    Returns a view into `grey` (no copy); empty (0 x 0) if the box lies wholly outside.
    """
    h, w = grey.shape[:2]
    dx, dy = round(face.w * margin), round(face.h * margin)
    top = face.y - round(face.h * shift_up)
    x0, y0 = max(0, face.x - dx), max(0, top - dy)
    x1, y1 = min(w, face.x + face.w + dx), min(h, top + face.h + dy)
    if x1 <= x0 or y1 <= y0:
        return grey[0:0, 0:0]
    return grey[y0:y1, x0:x1]


_clahe: cv2.CLAHE | None = None


def _get_clahe() -> cv2.CLAHE:
    global _clahe
    if _clahe is None:  # one object for the process: creating it costs more than applying it
        _clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    return _clahe


# stretch: the darkest and the brightest 1 % of a crop's pixels are let go (speculars, hair,
# a dark background corner), and a crop spanning fewer grey levels than this is left alone
# (a blank or a flat patch: stretching it would only amplify its noise)
STRETCH_CLIP = 0.01
STRETCH_MIN_SPAN = 8


def stretch(crop: np.ndarray) -> np.ndarray:
    """Linear contrast stretch: the crop's 1st to 99th percentile of grey onto 0..255.

    The face metered as a camera's spot meter would: a face in a dim room, or a dark face
    against a bright window, reaches the classifier with the contrast it learnt from. Unlike
    histogram equalisation it keeps the order and the spacing of grey levels.
    """
    counts = np.cumsum(np.bincount(crop.ravel(), minlength=256))
    total = int(counts[-1])
    low = int(np.searchsorted(counts, total * STRETCH_CLIP))
    high = int(np.searchsorted(counts, total * (1.0 - STRETCH_CLIP)))
    if high - low < STRETCH_MIN_SPAN:
        return crop
    levels = (np.arange(256, dtype=np.float32) - low) * (255.0 / (high - low))
    return cv2.LUT(np.ascontiguousarray(crop), np.clip(levels + 0.5, 0, 255).astype(np.uint8))


def equalize(crop: np.ndarray, mode: str = "none") -> np.ndarray:
    """Lighting normalisation of a grey uint8 crop: none, global histogram, CLAHE, or stretch."""
    if mode == "none" or crop.size == 0:
        return crop
    if mode == "stretch":
        return stretch(crop)
    if mode == "hist":
        return cv2.equalizeHist(np.ascontiguousarray(crop))
    if mode == "clahe":
        return _get_clahe().apply(np.ascontiguousarray(crop))
    raise ValueError(f"unknown equalize mode {mode!r} (none | hist | clahe | stretch)")
