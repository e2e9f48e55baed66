"""BlazeFace's one runner: anchors, decoding and suppression on synthetic cases, and the model
checks at load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodpi.perception.detect.blazeface import (
    BlazeFaceRunner,
    anchors_px,
    boxes_to_faces,
    decode_boxes,
    weighted_nms,
)
from moodpi.types import Face
from tests.support.faces import BLAZEFACE as MODEL

REPO = Path(__file__).resolve().parents[3]


def test_anchors_follow_the_short_range_layout() -> None:
    anchors = anchors_px()
    assert anchors.shape == (896, 2)
    # Stride 8: a 16x16 grid, 2 anchors per cell, row-major, centres at (i + 0.5) * 8 px.
    np.testing.assert_allclose(anchors[0], [4, 4])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [12, 4])
    np.testing.assert_allclose(anchors[32], [4, 12])
    # Stride 16 (three layers merged): an 8x8 grid, 6 anchors per cell, from index 512.
    np.testing.assert_allclose(anchors[512:518], np.tile([8, 8], (6, 1)))
    np.testing.assert_allclose(anchors[518], [24, 8])
    np.testing.assert_allclose(anchors[-1], [120, 120])


def test_the_anchor_grid_matches_the_model_at_any_input_size() -> None:
    # 128x128: 16x16 cells x 2 + 8x8 cells x 6 = 896, MediaPipe's count
    assert len(anchors_px(128, 128)) == 896
    anchors = anchors_px(128, 256)
    assert len(anchors) == 2 * 16 * 32 + 6 * 8 * 16
    assert anchors[:, 0].max() < 256 and anchors[:, 1].max() < 128
    assert tuple(anchors[0]) == (4.0, 4.0)


def test_decode_boxes_offsets_from_the_anchor_in_input_pixels() -> None:
    anchors = np.array([[64, 64], [32, 96]], np.float32)
    raw = np.zeros((2, 16), np.float32)
    raw[0, :4] = [0, 0, 64, 32]  # centred on its anchor, half the input wide, a quarter high
    raw[1, :4] = [12.8, -12.8, 25.6, 25.6]  # moved +0.1, -0.1 of the input; 0.2 wide and high
    boxes = decode_boxes(raw, anchors)
    np.testing.assert_allclose(boxes[0], [32, 48, 96, 80], atol=1e-4)
    np.testing.assert_allclose(boxes[1], [32, 70.4, 57.6, 96], atol=1e-4)


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces() -> None:
    boxes = np.array(
        [[0.10, 0.10, 0.30, 0.30], [0.12, 0.10, 0.32, 0.30], [0.60, 0.60, 0.80, 0.80]], np.float32
    )
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    merged, merged_scores = weighted_nms(boxes, scores, 0.3, weighted=True)
    assert merged.shape == (2, 4)
    np.testing.assert_allclose(merged_scores, [0.9, 0.7])
    # Score-weighted mean of the two overlapping boxes: x0 = (0.9*0.10 + 0.6*0.12) / 1.5.
    np.testing.assert_allclose(merged[0], [0.108, 0.10, 0.308, 0.30], atol=1e-6)
    np.testing.assert_allclose(merged[1], boxes[2])
    plain, _ = weighted_nms(boxes, scores, 0.3, weighted=False)
    np.testing.assert_allclose(plain[0], boxes[0])


def test_nms_of_nothing_is_nothing() -> None:
    boxes, scores = weighted_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_boxes_are_clipped_to_the_frame_and_small_ones_dropped() -> None:
    boxes = np.array([[-20, -10, 100, 90], [600, 400, 700, 520], [10, 10, 20, 20]], np.float32)
    faces = boxes_to_faces(boxes, np.array([0.9, 0.8, 0.7]), (480, 640), min_size_px=24)
    assert faces == [
        Face(0, 0, 100, 90, pytest.approx(0.9)),
        Face(600, 400, 40, 80, pytest.approx(0.8)),
    ]


def test_the_runner_checks_the_model_and_its_input_size(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        BlazeFaceRunner.load(tmp_path / "nope.tflite", min_score=0.6)
    emotion_model = REPO / "models" / "retired" / "emotion_int8.tflite"
    if emotion_model.is_file():
        with pytest.raises(ValueError, match="expected a float32 input"):
            BlazeFaceRunner.load(emotion_model, min_score=0.6)
    with pytest.raises(ValueError, match="multiples of 16"):
        BlazeFaceRunner.load(MODEL, 128, 200, min_score=0.6)
    wide = BlazeFaceRunner.load(MODEL, 128, 192, min_score=0.6)
    assert (wide.h, wide.w) == (128, 192)
    boxes, scores = wide.run(np.zeros((128, 192), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)
