"""Box helpers of the room detector: overlap tests, the best match, a face moved back from a
padded image, and a thumbnail that tells whether a box still shows what it showed."""

from __future__ import annotations

import cv2
import numpy as np

from moodpi.perception.detect.blazeface import NMS_IOU, iou
from moodpi.types import Face

THUMB_PX = 12  # a box looked at this small: a face that left shows, a face that talks does not


def thumbnail(grey: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The box's region area-averaged to THUMB_PX x THUMB_PX (float32), None when off-frame."""
    h, w = grey.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    region = grey[y0:y1, x0:x1]
    return cv2.resize(region, (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA).astype(np.float32)


def changed(before: np.ndarray | None, now: np.ndarray | None, grey_levels: float) -> bool:
    """The region changed by more than `grey_levels` on average (or cannot be compared)."""
    if before is None or now is None:
        return True
    return bool(np.mean(np.abs(now - before)) > grey_levels)


def shift_face(face: Face, dx: int, dy: int, w: int, h: int) -> Face | None:
    """A face found in a padded image, moved back and clipped to the (w, h) original."""
    x0, y0 = max(0, face.x + dx), max(0, face.y + dy)
    x1, y1 = min(w, face.x + face.w + dx), min(h, face.y + face.h + dy)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return Face(x0, y0, x1 - x0, y1 - y0, face.score)


def clear_of(box: np.ndarray, others: list[np.ndarray]) -> bool:
    """No box of `others` overlaps `box` by more than NMS_IOU (true when there are none)."""
    return bool(np.all(iou(box, np.array(others, np.float32).reshape(-1, 4)) <= NMS_IOU))


def best_overlap(
    box: np.ndarray, hits: list[tuple[np.ndarray, float]]
) -> tuple[np.ndarray, float] | None:
    """The hit that overlaps the track most (a face moves little between frames), if any."""
    if not hits:
        return None
    overlaps = iou(box, np.array([b for b, _ in hits], np.float32).reshape(-1, 4))
    best = int(np.argmax(overlaps))
    return hits[best] if overlaps[best] > 0.1 else None
