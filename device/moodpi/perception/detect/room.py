"""Faces across a living room (0.5-4 m) at a bounded cost per frame.

BlazeFace short-range finds a face reliably once it is about 32 pixels or more of its input
(measured on real photos: 24 px 0.77, 32 px 1.00), and one 128x128 pass costs about 1.2 ms on
one core here. A whole 1280x720 frame letterboxed into 128x128 therefore misses everyone beyond
arm's length, and one pass over the frame at full resolution (the model is fully convolutional,
so its input can be resized) costs about 80 ms. Instead, per frame:

* **tracks**: every face seen in the last `track_frames` frames gets a pass of its own, a square
  window around it resized so that the face is about 50 px in the model's input. This keeps
  known faces found every frame and gives the classifier a box drawn at the detector's best
  scale;
* **sweep**: a pyramid of overlapping tiles covers the frame, from one coarse pass over the
  whole frame down to a level where the smallest face to find (`smallest_face_px`) is
  `TARGET_FACE_PX` in the input; `tiles_per_frame` tiles are visited per frame, coarse levels
  more often than fine ones, so near faces are found within a few frames and far ones within a
  sweep. A face found by the sweep becomes a track and is reported once its own window confirms
  it, which also removes most false faces (a texture that fires once at a tile edge).

`scan()` runs the whole sweep and the confirmations at once: for still images
(`moodpi classify`), where there is no next frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from moodpi.perception.detect.blazeface import INPUT_PX, BlazeFaceRunner, boxes_to_faces
from moodpi.perception.detect.boxes import best_overlap, changed, clear_of, shift_face, thumbnail
from moodpi.perception.detect.sweep import (
    MOTION_FACTOR,
    TILE_H,
    TILE_W,
    MotionPicker,
    Pyramid,
    Tile,
    schedule,
    sweep_tiles,
)
from moodpi.types import Face

TRACK_FACE_PX = 48  # a track's window makes its face about this size in the input
WINDOW_PX = INPUT_PX  # track windows: the model's own square input
CANDIDATE_SCORE_MARGIN = 0.15
RECHECK_FRAMES = 2
# A confirmed face between its checks is rechecked at once when its box changed this much (mean
# grey levels of its thumbnail): someone who got up is not reported in the frame after they left.
CHANGED_GREY_LEVELS = 12.0
STILL_PAD_MAX_PX = 800  # stills up to this size are retried inside a border (portrait crops)


@dataclass
class _Track:
    box: np.ndarray  # x0, y0, x1, y1 in frame pixels
    score: float
    last_seen: int  # frame number
    confirmed: bool
    last_checked: int = -1
    look: np.ndarray | None = None  # the box's thumbnail at its last check


class RoomDetector:
    """Tracks + sweep (module docstring). `detect` is called once per frame with its time."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_score: float = 0.6,
        min_size_px: int = 8,
        smallest_face_px: float = 32.0,
        smallest_face_frac: float | None = None,
        tiles_per_frame: int = 2,
        track_frames: int = 15,
        num_threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self.min_score = min_score
        self.min_size_px = min_size_px
        self.smallest_face_px = smallest_face_px
        # As a fraction of the frame width (faces.reach_m through the lens): frames of another
        # size than the configured capture (a replay) keep the same reach.
        self.smallest_face_frac = smallest_face_frac
        self.tiles_per_frame = tiles_per_frame
        self.track_frames = track_frames
        self.num_threads = num_threads
        self._window: BlazeFaceRunner | None = None
        self._keep_score = min_score
        self._tile_net: BlazeFaceRunner | None = None
        self._shape: tuple[int, int] | None = None
        self._order: list[Tile] = []
        self._motion = MotionPicker([])
        self._motion_frame = -2
        self._next = 0
        self._tracks: list[_Track] = []
        self._frame_no = 0
        self._canvas = np.zeros((WINDOW_PX, WINDOW_PX), np.uint8)
        self._tile_canvas = np.zeros((TILE_H, TILE_W), np.uint8)
        self.passes = 0  # model invocations so far (for the benchmark's cost accounting)

    def open(self) -> None:
        if self._window is None:
            # Sweep hits are only candidates, which a window must confirm at min_score, so the
            # sweep may listen to weaker scores: a far face scores about 0.6 in a tile, 0.85 in
            # its own window. A face already confirmed is kept at that weaker score too
            # (hysteresis): a turned head or a blink should not make the room empty.
            self._keep_score = max(0.3, self.min_score - CANDIDATE_SCORE_MARGIN)
            self._window = self._load(WINDOW_PX, WINDOW_PX)
            self._tile_net = self._load(TILE_H, TILE_W)

    def _load(self, h: int, w: int) -> BlazeFaceRunner:
        return BlazeFaceRunner.load(
            self.model_path, h, w, min_score=self._keep_score, num_threads=self.num_threads
        )

    def close(self) -> None:
        self._window = self._tile_net = None

    @property
    def sweep_length(self) -> int:
        """Tiles in one sweep of the current frame size (0 before the first frame)."""
        return len(self._order)

    def sweep_frames(self, width: int, height: int) -> int:
        """Frames one sweep of a width x height stream takes: the longest wait for a face."""
        tiles = len(schedule(sweep_tiles(width, height, self._smallest(width))))
        return math.ceil(tiles / self.tiles_per_frame)

    @property
    def name(self) -> str:
        return "RoomDetector"

    def reset(self) -> None:
        """Forget every face (a new scene): the next frames start the sweep again."""
        self._tracks = []
        self._next = 0

    def detect(self, grey: np.ndarray, lores: np.ndarray | None = None) -> list[Face]:
        """Faces of one frame of a stream: confirmed tracks, best first. `lores`: the same
        frame at a quarter of each side, if the camera made one."""
        self.open()
        self._frame_no += 1
        now = self._frame_no
        self._prepare(grey.shape[:2])
        pyramid = Pyramid(grey, lores)
        found: list[tuple[np.ndarray, float]] = []
        moving = self._motion.pick(pyramid.at(MOTION_FACTOR)[0], now, self._followed())
        # A moving tile at most every other frame, so the sweep goes on under steady motion.
        if moving is not None and now - self._motion_frame > 1:
            self._motion_frame = now
            found.extend(self._run_tile(pyramid, moving))
        else:
            for _ in range(self.tiles_per_frame):
                found.extend(self._run_tile(pyramid, self._order[self._next]))
                self._next = (self._next + 1) % len(self._order)
        self._follow_tracks(pyramid, now)
        self._add_candidates(found, now)
        return self._faces(grey.shape[:2])

    def scan(self, grey: np.ndarray) -> list[Face]:
        """Every face of a still image: the whole sweep, then each candidate's own window.

        A photo that is all face (a cropped portrait) gives BlazeFace no room around it; when
        nothing is found, the photo is looked at again inside a grey border half its size.
        """
        faces = self._scan_once(grey)
        if faces or min(grey.shape[:2]) > STILL_PAD_MAX_PX:
            return faces
        h, w = grey.shape[:2]
        pad = max(h, w) // 2
        padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=128)
        return [
            f
            for f in (shift_face(face, -pad, -pad, w, h) for face in self._scan_once(padded))
            if f is not None
        ]

    def _scan_once(self, grey: np.ndarray) -> list[Face]:
        self.open()
        self._prepare(grey.shape[:2])
        self._tracks = []
        pyramid = Pyramid(grey)
        found = [hit for tile in self._order for hit in self._run_tile(pyramid, tile)]
        self._add_candidates(found, self._frame_no)
        self._follow_tracks(pyramid, self._frame_no)
        return self._faces(grey.shape[:2])

    # -- internals ---------------------------------------------------------------------------

    def _prepare(self, shape: tuple[int, int]) -> None:
        if shape != self._shape:
            h, w = shape
            levels = sweep_tiles(w, h, self._smallest(w))
            self._order = schedule(levels)
            self._motion = MotionPicker([t for tiles in levels[1:] for t in tiles])
            self._next = 0
            self._tracks = []
            self._shape = shape

    def _followed(self) -> list[np.ndarray]:
        """Boxes of the faces followed now, grown 2x: their own motion is not a newcomer's."""
        boxes = []
        for t in self._tracks:
            if t.confirmed:
                cx, cy = (t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2
                half = max(t.box[2] - t.box[0], t.box[3] - t.box[1])
                boxes.append(np.array([cx - half, cy - half, cx + half, cy + half]))
        return boxes

    def _smallest(self, width: int) -> float:
        frac = self.smallest_face_frac
        return self.smallest_face_px if frac is None else frac * width

    def _run_tile(self, grey: Pyramid, tile: Tile) -> list[tuple[np.ndarray, float]]:
        assert self._tile_net is not None
        scale = min(TILE_W / tile.w, TILE_H / tile.h)
        return self._run(self._tile_net, self._tile_canvas, grey, tile.x, tile.y, scale)

    def _run_window(
        self, grey: Pyramid, x: float, y: float, side: float
    ) -> list[tuple[np.ndarray, float]]:
        assert self._window is not None
        return self._run(self._window, self._canvas, grey, x, y, WINDOW_PX / side)

    def _run(
        self,
        net: BlazeFaceRunner,
        canvas: np.ndarray,
        grey: Pyramid,
        x: float,
        y: float,
        scale: float,
    ) -> list[tuple[np.ndarray, float]]:
        """Resize the frame region at (x, y) by `scale` into the canvas (black where the region
        leaves the frame), run the model, and map its boxes back to frame pixels."""
        h, w = grey.shape
        x, y = math.floor(x), math.floor(y)  # whole pixels: the canvas offset is then >= 0
        x0, y0 = max(0, x), max(0, y)
        x1 = min(w, math.ceil(x + net.w / scale))
        y1 = min(h, math.ceil(y + net.h / scale))
        canvas[:] = 0
        if x1 - x0 < 2 or y1 - y0 < 2:
            return []
        ox, oy = round((x0 - x) * scale), round((y0 - y) * scale)
        out_w = min(net.w - ox, round((x1 - x0) * scale))
        out_h = min(net.h - oy, round((y1 - y0) * scale))
        if out_w < 1 or out_h < 1:
            return []
        src, f = grey.at(scale)
        region = src[
            int(y0 * f) : max(int(y0 * f) + 1, math.ceil(y1 * f)),
            int(x0 * f) : max(int(x0 * f) + 1, math.ceil(x1 * f)),
        ]
        interp = cv2.INTER_AREA if scale < f else cv2.INTER_LINEAR
        canvas[oy : oy + out_h, ox : ox + out_w] = cv2.resize(
            region, (out_w, out_h), interpolation=interp
        )
        self.passes += 1
        boxes, scores = net.run(canvas)
        sx, sy = (x1 - x0) / out_w, (y1 - y0) / out_h
        frame_boxes = np.empty_like(boxes)
        frame_boxes[:, [0, 2]] = (boxes[:, [0, 2]] - ox) * sx + x0
        frame_boxes[:, [1, 3]] = (boxes[:, [1, 3]] - oy) * sy + y0
        return list(zip(frame_boxes, (float(s) for s in scores), strict=True))

    def _follow_tracks(self, grey: Pyramid, now: int) -> None:
        """Each track's own window: confirmed and moved where the face is, or left to expire.

        A confirmed face is looked at every RECHECK_FRAMES frames (people on a sofa move little
        in a tenth of a second, and the pass is most of a frame's cost); a candidate at once.
        """
        full = grey.at(1.0)[0]
        for track in self._tracks:
            look = thumbnail(full, track.box)
            due = now - track.last_checked >= RECHECK_FRAMES
            if track.confirmed and not due and not changed(track.look, look, CHANGED_GREY_LEVELS):
                continue
            track.last_checked, track.look = now, look
            cx, cy = (track.box[0] + track.box[2]) / 2, (track.box[1] + track.box[3]) / 2
            size = max(track.box[2] - track.box[0], track.box[3] - track.box[1], 1.0)
            side = max(size * WINDOW_PX / TRACK_FACE_PX, 32.0)
            hits = self._run_window(grey, cx - side / 2, cy - side / 2, side)
            needed = self._keep_score if track.confirmed else self.min_score
            best = best_overlap(track.box, [(b, sc) for b, sc in hits if sc >= needed])
            if best is not None:
                track.box, track.score = best
                track.last_seen, track.confirmed = now, True
        self._tracks = [t for t in self._tracks if now - t.last_seen <= self.track_frames]
        self._merge_tracks()

    def _add_candidates(self, found: list[tuple[np.ndarray, float]], now: int) -> None:
        for box, score in found:
            if clear_of(box, [t.box for t in self._tracks]):
                self._tracks.append(_Track(box, score, now, confirmed=False))

    def _merge_tracks(self) -> None:
        kept: list[_Track] = []
        for track in sorted(self._tracks, key=lambda t: (t.confirmed, t.score), reverse=True):
            if clear_of(track.box, [k.box for k in kept]):
                kept.append(track)
        self._tracks = kept

    def _faces(self, shape: tuple[int, int]) -> list[Face]:
        # not reported: a candidate not yet confirmed, or a face missed at its last check (which
        # comes at once when its box changed)
        shown = [
            t
            for t in self._tracks
            if t.confirmed
            and t.last_seen == t.last_checked
            and self._frame_no - t.last_seen < RECHECK_FRAMES
        ]
        boxes = np.array([t.box for t in shown], np.float32).reshape(-1, 4)
        faces = boxes_to_faces(boxes, [t.score for t in shown], shape, self.min_size_px)
        return sorted(faces, key=lambda f: f.score, reverse=True)
