"""The sweep's geometry: a pyramid of overlapping tiles over the frame, the order they are
visited in, and the frame's halvings they are cut from (detect/room.py uses them)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

TARGET_FACE_PX = 28  # smallest face side in the model's input that is found reliably
TILE_H, TILE_W = 128, 192  # sweep tiles: a wide input has less overlap per pixel covered
TILE_OVERLAP_PX = 48  # in input pixels: a face up to this size lies wholly in some tile
MAX_UPSCALE = 2.0


@dataclass(frozen=True)
class Tile:
    """A region of the frame (x, y, w, h in frame pixels) and the input it is resized to."""

    x: int
    y: int
    w: int
    h: int
    level: int


def sweep_tiles(width: int, height: int, smallest_face_px: float) -> list[list[Tile]]:
    """The sweep pyramid, coarse level first: the coarsest level is the whole frame in one
    tile; each finer level doubles the scale, down to the level where the smallest face to
    find is TARGET_FACE_PX in the model's input (a small frame is enlarged at most
    MAX_UPSCALE times)."""
    finest = min(MAX_UPSCALE, TARGET_FACE_PX / max(smallest_face_px, 1.0))
    scales = [finest]
    while width * scales[-1] > TILE_W or height * scales[-1] > TILE_H:
        scales.append(scales[-1] / 2)
    coarse_first = enumerate(reversed(scales))
    return [list(_grid(width, height, scale, level)) for level, scale in coarse_first]


def _grid(width: int, height: int, scale: float, level: int) -> Iterator[Tile]:
    tw, th = TILE_W / scale, TILE_H / scale
    step_x, step_y = (TILE_W - TILE_OVERLAP_PX) / scale, (TILE_H - TILE_OVERLAP_PX) / scale
    for y in _starts(height, th, step_y):
        for x in _starts(width, tw, step_x):
            yield Tile(round(x), round(y), round(min(tw, width)), round(min(th, height)), level)


def _starts(length: int, tile: float, step: float) -> list[float]:
    if tile >= length:
        return [0.0]
    n = math.ceil((length - tile) / step)
    return [min(i * step, length - tile) for i in range(n + 1)]


def schedule(levels: list[list[Tile]]) -> list[Tile]:
    """One sweep as a visiting order. Level k gets a share of the visits proportional to the
    square root of its tile count: a coarse level (few tiles, the near faces) comes round in a
    few frames, the finest (most tiles, the far faces) in a few seconds; a pure round robin
    would make the near faces wait for the far ones.
    """
    weights = [math.sqrt(len(tiles)) for tiles in levels]
    total = sum(weights)
    credit = [0.0] * len(levels)
    visited = [0] * len(levels)
    order: list[Tile] = []
    while any(v < len(tiles) for v, tiles in zip(visited, levels, strict=True)):
        for k, w in enumerate(weights):
            credit[k] += w
        k = max(range(len(levels)), key=lambda i: credit[i])
        credit[k] -= total
        order.append(levels[k][visited[k] % len(levels[k])])
        visited[k] += 1
    return [levels[0][0], *order]  # the whole frame first: near faces on the first frame


class Pyramid:
    """A frame and its halves, made on demand: resizing 1280x720 straight to 228x128 with
    INTER_AREA costs about 2 ms, halving it about 0.05 ms, so a tile is cut from the smallest
    half still at least as sharp as its scale and resized by less than 2x from there. A camera's
    own quarter-size stream (picamera2's lores) stands in for the quarter level."""

    def __init__(self, grey: np.ndarray, lores: np.ndarray | None = None) -> None:
        self.shape: tuple[int, int] = grey.shape[:2]
        self._levels: dict[int, np.ndarray] = {0: grey}  # key: how many times halved
        h, w = self.shape
        if (
            lores is not None
            and lores.ndim == 2
            and abs(lores.shape[0] * 4 - h) <= 4
            and abs(lores.shape[1] * 4 - w) <= 4
        ):
            self._levels[2] = lores

    def at(self, scale: float) -> tuple[np.ndarray, float]:
        """The image whose factor f (1, 1/2, 1/4, ...) is the smallest with f >= scale."""
        level = 0
        while 0.5 ** (level + 1) >= scale and min(self.shape) * 0.5 ** (level + 1) >= 32:
            level += 1
        return self._level(level), 0.5**level

    def _level(self, level: int) -> np.ndarray:
        if level not in self._levels:
            prev = self._level(level - 1)
            half = (prev.shape[1] // 2, prev.shape[0] // 2)
            self._levels[level] = cv2.resize(prev, half, interpolation=cv2.INTER_AREA)
        return self._levels[level]


MOTION_FACTOR = 1 / 8  # motion is looked for at an eighth of each side (160x90 for 1280x720)
MOTION_DELTA = 20  # grey levels: above sensor noise, below a person moving
MOTION_MAX_SHARE = 0.3  # more of the frame than this changed: the light, not a person
MOTION_REVISIT_FRAMES = 5  # a moving tile is looked at again after this many frames at most
MOTION_FACE_PX = 40  # the face size in the model's input a motion tile is chosen for


class MotionPicker:
    """Which sweep tile to look at next when something moved: a person walking in or sitting
    down is found in a frame or two instead of when the sweep comes round (seconds).

    Frame differences at an eighth of each side, split into moving blobs. A person's blob is
    head over shoulders, so the face is looked for near its top, about half its width across:
    the tile chosen holds that point and shows a face of that size at about MOTION_FACE_PX in
    the model's input. Tiles looked at in the last MOTION_REVISIT_FRAMES frames are skipped.
    """

    def __init__(self, tiles: list[Tile]) -> None:
        self._tiles = tiles
        self._boxes = np.array([[t.x, t.y, t.x + t.w, t.y + t.h] for t in tiles], np.float64)
        self._scales = np.array([min(TILE_W / t.w, TILE_H / t.h) for t in tiles], np.float64)
        self._prev: np.ndarray | None = None
        self._visited: dict[int, int] = {}

    def pick(self, small: np.ndarray, frame_no: int, skip: list[np.ndarray]) -> Tile | None:
        """The tile for the largest new blob, or None. `skip`: boxes (frame pixels) of faces
        already followed, whose own small movements are no news."""
        prev, self._prev = self._prev, small
        if not self._tiles or prev is None or prev.shape != small.shape:
            return None
        moved = cv2.absdiff(small, prev) > MOTION_DELTA
        share = float(moved.mean())
        if share == 0.0 or share > MOTION_MAX_SHARE:
            return None
        f = MOTION_FACTOR
        for x0, y0, x1, y1 in skip:
            moved[max(0, int(y0 * f)) : int(y1 * f) + 1, max(0, int(x0 * f)) : int(x1 * f) + 1] = 0
        # grown by a pixel (8 frame pixels) so that a head and its shoulders make one blob
        joined = cv2.dilate(moved.astype(np.uint8), np.ones((3, 3), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        blobs = sorted(stats[1:n].tolist(), key=lambda b: -b[4])
        for bx, by, bw, bh, area in blobs:
            if area < 2:
                break
            face_px = max(bw / f / 2.0, 8.0)
            head = ((bx + bw / 2) / f, (by + min(bh, bw) / 2) / f)
            tile = self._tile_for(head, face_px, frame_no)
            if tile is not None:
                return tile
        return None

    def _tile_for(self, point: tuple[float, float], face_px: float, frame_no: int) -> Tile | None:
        x, y = point
        b = self._boxes
        inside = (b[:, 0] <= x) & (x < b[:, 2]) & (b[:, 1] <= y) & (y < b[:, 3])
        if not inside.any():
            return None
        fit = np.abs(np.log(face_px * self._scales / MOTION_FACE_PX))
        centre = np.hypot((b[:, 0] + b[:, 2]) / 2 - x, (b[:, 1] + b[:, 3]) / 2 - y)
        order = np.lexsort((centre, np.round(fit, 1)))  # best scale first, then most central
        for i in order:
            recent = frame_no - self._visited.get(int(i), -MOTION_REVISIT_FRAMES)
            if inside[i] and recent >= MOTION_REVISIT_FRAMES:
                self._visited[int(i)] = frame_no
                return self._tiles[int(i)]
        return None
