"""The pure helpers between detection and classification: which faces, the crop, its lighting."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from moodpi.perception.crop import crop_face, equalize, select_faces
from moodpi.types import Face

FACES_DIR = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "faces"


def test_select_largest_or_all() -> None:
    small, big, tie = Face(0, 0, 30, 30, 0.9), Face(50, 50, 80, 80, 0.7), Face(200, 0, 80, 80, 0.8)
    assert select_faces([small, big, tie], "largest") == [tie]  # equal size: higher score
    assert select_faces([small, big, tie], "all") == [tie, big, small]
    assert select_faces([], "largest") == []
    with pytest.raises(ValueError, match="policy"):
        select_faces([small], "smallest")


def test_crop_grows_by_the_margin_and_is_clipped_at_the_border() -> None:
    grey = np.arange(100 * 120, dtype=np.uint32).reshape(100, 120).astype(np.uint8)
    inside = crop_face(grey, Face(40, 30, 20, 20), margin=0.5)
    assert inside.shape == (40, 40)
    assert inside[0, 0] == grey[20, 30]
    corner = crop_face(grey, Face(-10, -5, 30, 30), margin=0.2)
    assert corner.shape == (31, 26) and corner[0, 0] == grey[0, 0]
    edge = crop_face(grey, Face(100, 80, 40, 40), margin=0.0)
    assert edge.shape == (20, 20)
    assert crop_face(grey, Face(200, 200, 10, 10)).shape == (0, 0)
    up = crop_face(grey, Face(40, 30, 20, 20), shift_up=0.5)
    assert up[0, 0] == grey[20, 40] and up.shape == (20, 20)


def test_equalize_modes() -> None:
    rng = np.random.default_rng(0)
    dim = rng.integers(40, 80, (64, 64)).astype(np.uint8)
    assert equalize(dim, "none") is dim
    for mode in ("hist", "clahe", "stretch"):
        out = equalize(dim[5:50, 3:40], mode)  # a non-contiguous view, as crops are
        assert out.shape == (45, 37) and out.dtype == np.uint8
        assert int(out.max()) - int(out.min()) > 80, "contrast must be stretched"
    assert equalize(np.zeros((0, 0), np.uint8), "clahe").shape == (0, 0)
    with pytest.raises(ValueError, match="equalize"):
        equalize(dim, "gamma")


def test_stretch_maps_a_dim_face_onto_the_full_range_and_keeps_its_grey_order() -> None:
    face = cv2.imread(str(FACES_DIR / "happy_PublicTest_13119862.png"), cv2.IMREAD_GRAYSCALE)
    dim = (face.astype(np.float32) * 0.4).astype(np.uint8)  # a face in a dim room
    out = equalize(dim, "stretch")
    low, high = np.percentile(out, [1, 99])
    assert low <= 3 and high >= 252, (low, high)
    # linear: a brighter pixel never ends darker, and the face looks like itself again
    order = np.argsort(dim.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)
    assert np.corrcoef(out.ravel(), face.ravel())[0, 1] > 0.97
    # a flat patch is left alone rather than its noise amplified
    flat = np.full((40, 40), 90, np.uint8)
    flat[::7, ::5] = 93
    assert equalize(flat, "stretch") is flat
