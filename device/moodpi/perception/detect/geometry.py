"""How far away a face is, from the width of its box, and how far the camera has seen lately.

A pinhole camera with horizontal field of view `hfov` images a frame W pixels wide; an object of
width S metres at distance d spans w = W * S / (2 d tan(hfov / 2)) pixels. A face box is about
0.15 m wide (BlazeFace and Haar boxes run cheek to cheek), so d = W * 0.15 / (2 w tan(hfov / 2)).
It is an estimate for placing the camera (a child's face, a turned head or another lens move it
by tens of percent), not a measurement.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from moodpi.state import Sight
from moodpi.types import Face

FACE_WIDTH_M = 0.15
DEFAULT_HFOV_DEG = 66.0  # Raspberry Pi Camera Module 3 (standard lens)
REACH_WINDOW_S = 600.0  # "lately": the last ten minutes
REACH_BUCKET_S = 60.0  # one minimum per minute: at most 11 entries, whatever the frame rate


def distance_m(
    face_w_px: float,
    frame_w_px: float,
    hfov_deg: float = DEFAULT_HFOV_DEG,
    face_width_m: float = FACE_WIDTH_M,
) -> float:
    """Estimated distance in metres of a face whose box is `face_w_px` wide in a frame
    `frame_w_px` wide, seen through a lens of `hfov_deg` horizontal field of view."""
    if face_w_px <= 0 or frame_w_px <= 0:
        raise ValueError(f"face and frame widths must be positive, got {face_w_px}, {frame_w_px}")
    if not 0.0 < hfov_deg < 180.0:
        raise ValueError(f"horizontal field of view must be in (0, 180) degrees, got {hfov_deg}")
    return frame_w_px * face_width_m / (2.0 * face_w_px * math.tan(math.radians(hfov_deg) / 2.0))


def face_width_px(
    distance: float,
    frame_w_px: float,
    hfov_deg: float = DEFAULT_HFOV_DEG,
    face_width_m: float = FACE_WIDTH_M,
) -> float:
    """The inverse: how wide a face box is at `distance` metres (e.g. 37 px at 2 m in 640 px)."""
    if distance <= 0:
        raise ValueError(f"distance must be positive, got {distance}")
    # The relation is symmetric in distance and face width: w = W * S / (2 d tan(hfov / 2)).
    return distance_m(distance, frame_w_px, hfov_deg, face_width_m)


class Reach:
    """The smallest face found lately (so the farthest distance the setup sees), kept small.

    One (face width, frame width) minimum per minute over the last ten minutes, ranked by the
    ratio face / frame (the frame size may change between two readings); `now` is passed in,
    seconds on any monotonic clock.
    """

    def __init__(
        self,
        hfov_deg: float = DEFAULT_HFOV_DEG,
        window_s: float = REACH_WINDOW_S,
        bucket_s: float = REACH_BUCKET_S,
    ) -> None:
        self.hfov_deg = hfov_deg
        self.window_s = window_s
        self._bucket_s = bucket_s
        self._buckets: deque[tuple[int, int, int]] = deque()  # (bucket, face_px, frame_px)

    def add_faces(self, faces: Iterable[Face], frame_w_px: int, now: float) -> None:
        """Every face box of one frame `frame_w_px` wide (boxes in that frame's pixels)."""
        widths = [face.w for face in faces if face.w > 0]
        if widths:
            self.add(min(widths), frame_w_px, now)

    def add(self, face_w_px: int, frame_w_px: int, now: float) -> None:
        if face_w_px <= 0 or frame_w_px <= 0:
            return
        bucket = int(now // self._bucket_s)
        if self._buckets and self._buckets[-1][0] == bucket:
            _, best_face, best_frame = self._buckets[-1]
            if face_w_px * best_frame >= best_face * frame_w_px:
                return  # not smaller, relative to its frame, than this minute's smallest
            self._buckets.pop()
        self._buckets.append((bucket, face_w_px, frame_w_px))
        self._forget(now)

    def sight(self, now: float) -> Sight | None:
        """The smallest face of the window and its estimated distance; None: no face lately."""
        self._forget(now)
        if not self._buckets:
            return None
        _, face_px, frame_px = min(self._buckets, key=lambda b: b[1] / b[2])
        farthest = distance_m(face_px, frame_px, self.hfov_deg)
        return Sight(face_px, frame_px, round(farthest, 2), self.window_s)

    def _forget(self, now: float) -> None:
        oldest = int((now - self.window_s) // self._bucket_s)
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()
