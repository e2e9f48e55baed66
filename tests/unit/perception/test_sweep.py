"""The sweep's geometry: tiles that cover every pixel at every level, the order they are visited
in, the frame's halvings (the camera's quarter stream among them), and the motion picker."""

from __future__ import annotations

import numpy as np

from moodpi.perception.detect.sweep import (
    TARGET_FACE_PX,
    TILE_H,
    TILE_W,
    MotionPicker,
    Pyramid,
    schedule,
    sweep_tiles,
)

SIZE = (1280, 720)
FAR_PX = 37  # a face at 4 m through a 66 degree lens, 1280 px wide


def test_the_sweep_covers_every_pixel_at_every_level_and_visits_every_tile() -> None:
    levels = sweep_tiles(*SIZE, smallest_face_px=FAR_PX)
    assert len(levels[0]) == 1 and (levels[0][0].w, levels[0][0].h) == SIZE
    for tiles in levels:
        covered = np.zeros((SIZE[1], SIZE[0]), bool)
        for t in tiles:
            covered[t.y : t.y + t.h, t.x : t.x + t.w] = True
        assert covered.all()
    finest = levels[-1][0]
    assert FAR_PX * min(TILE_W / finest.w, TILE_H / finest.h) >= TARGET_FACE_PX - 0.5
    order = schedule(levels)
    assert {id(t) for tiles in levels for t in tiles} <= {id(t) for t in order}
    # the whole frame (near faces) comes round far more often than any one fine tile
    assert sum(t.level == 0 for t in order) > 3 * max(order.count(t) for t in levels[-1])


def test_the_cameras_own_quarter_stream_serves_the_coarse_passes() -> None:
    grey = np.zeros((720, 1280), np.uint8)
    lores = np.full((180, 320), 7, np.uint8)
    pyramid = Pyramid(grey, lores)
    assert pyramid.at(1.0)[0] is grey and pyramid.at(0.9) == (grey, 1.0)
    image, factor = pyramid.at(0.2)  # 0.2 needs the quarter level: the lores frame itself
    assert image is lores and factor == 0.25
    half, factor = pyramid.at(0.4)
    assert half.shape == (360, 640) and factor == 0.5
    eighth, _ = pyramid.at(0.1)
    assert eighth.shape == (90, 160) and int(eighth[0, 0]) == 7  # made from lores, not grey
    assert Pyramid(grey, np.zeros((100, 100), np.uint8)).at(0.2)[0].shape == (180, 320)


def test_a_change_of_light_is_not_taken_for_someone_moving() -> None:
    levels = sweep_tiles(*SIZE, smallest_face_px=FAR_PX)
    picker = MotionPicker([t for tiles in levels[1:] for t in tiles])
    dim = np.full((90, 160), 80, np.uint8)
    assert picker.pick(dim, 1, []) is None  # nothing to compare with yet
    assert picker.pick(dim + 60, 2, []) is None  # the whole room brighter: the light
    moved = (dim + 60).copy()
    moved[40:50, 100:106] = 250  # a small patch: someone far away
    tile = picker.pick(moved, 3, [])
    assert tile is not None and tile.x <= 100 * 8 and tile.x + tile.w >= 106 * 8
    assert picker.pick(moved, 4, []) is None  # nothing changed since
