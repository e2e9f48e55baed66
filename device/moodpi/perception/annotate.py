"""One frame drawn for a person placing the camera (`moodpi snapshot`): each face boxed with its
emotion, confidence and estimated distance (detect.geometry, from the box width and the lens'
field of view), so a glance tells whether the far end of the room is in reach.

Drawn by the command from a frame it grabbed itself, or by the daemon from its newest frame when
the command asks it over its snapshot socket; either way the image exists only in memory until
the command writes the file the person named.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from moodpi.perception.detect.geometry import distance_m
from moodpi.types import Observation

GREEN = (0, 200, 0)  # a face read, with its emotion
AMBER = (0, 170, 255)  # a face found but not read (faces.select = "largest": another face was)
IMAGE_TYPES = {"jpg": ".jpg", "png": ".png"}


def face_rows(observation: Observation, frame_w_px: int, hfov_deg: float) -> list[dict[str, Any]]:
    """Every face found, read ones first: box, distance in metres, emotion and confidence
    (None for a face left unread)."""
    rows = [
        {**_box(p.face, frame_w_px, hfov_deg), "emotion": p.emotion, "confidence": p.confidence}
        for p in observation.predictions
    ]
    read = {(p.face.x, p.face.y, p.face.w, p.face.h) for p in observation.predictions}
    rows += [
        {**_box(face, frame_w_px, hfov_deg), "emotion": None, "confidence": None}
        for face in observation.faces
        if (face.x, face.y, face.w, face.h) not in read
    ]
    return rows


def _box(face: Any, frame_w_px: int, hfov_deg: float) -> dict[str, Any]:
    far = distance_m(face.w, frame_w_px, hfov_deg) if face.w > 0 else None
    return {"x": face.x, "y": face.y, "w": face.w, "h": face.h,
            "distance_m": None if far is None else round(far, 2)}  # fmt: skip


def annotate(grey: np.ndarray, observation: Observation, hfov_deg: float = 66.0) -> np.ndarray:
    """A colour copy of the frame with each face's box, emotion, confidence and estimated
    distance drawn on it."""
    image = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    rows = face_rows(observation, grey.shape[1], hfov_deg)
    for row in rows:
        x, y, w, h = row["x"], row["y"], row["w"], row["h"]
        colour = GREEN if row["emotion"] else AMBER
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, 2)
        far = f"~{row['distance_m']:.1f} m" if row["distance_m"] is not None else ""
        read = f"{row['emotion']} {row['confidence']:.2f} " if row["emotion"] else "not read "
        cv2.putText(image, read + far, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    colour, 2)  # fmt: skip
    if not rows:
        cv2.putText(image, "no face", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
    return image


def drawn(
    grey: np.ndarray, observation: Observation, hfov_deg: float, kind: str
) -> tuple[dict[str, Any], bytes]:
    """What the annotated frame shows (width, height, faces: `face_rows`) and its file bytes."""
    height, width = grey.shape[:2]
    shows = {"width": width, "height": height, "faces": face_rows(observation, width, hfov_deg)}
    return shows, encode(annotate(grey, observation, hfov_deg), kind)


def encode(image: np.ndarray, kind: str) -> bytes:
    """The image as a JPEG or PNG file's bytes (`kind`: jpg | png)."""
    if kind not in IMAGE_TYPES:
        raise ValueError(f"image type {kind!r}: expected one of {', '.join(IMAGE_TYPES)}")
    ok, data = cv2.imencode(IMAGE_TYPES[kind], image)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {kind} image")
    return bytes(data)
