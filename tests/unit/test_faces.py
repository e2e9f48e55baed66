"""Face detection: BlazeFace decoding pieces on synthetic cases, and the real model (and Haar) on
frames composed from real FER-2013 faces; the pure select/crop/equalize helpers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from moodpi import config as config_mod
from moodpi.lab.replaygen import compose_frame, face_box, load_fixture_faces
from moodpi.perception.blazeface import (
    BlazeFaceDetector,
    Letterbox,
    boxes_to_faces,
    decode_boxes,
    iou,
    ssd_anchors,
    weighted_nms,
)
from moodpi.perception.faces import crop_face, equalize, make_detector, select_faces
from moodpi.perception.haar import HaarDetector, HaarUnavailable, haar_cascade_path
from moodpi.perception.room import RoomDetector
from moodpi.types import Face

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "face_detection_short_range.tflite"
FACES_DIR = REPO / "tests" / "fixtures" / "faces"

# (face side px, centre) in a 640x480 frame: near and far, centred and off-centre.
PLACEMENTS = [(130, (200, 200)), (180, (330, 250)), (240, (420, 230))]


def box_iou(a: Face, b: tuple[int, int, int, int]) -> float:
    one = np.array([a.x, a.y, a.x + a.w, a.y + a.h], float)
    other = np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]]], float)
    return float(iou(one, other)[0])


@pytest.fixture(scope="module")
def all_faces() -> list[np.ndarray]:
    return [f for group in load_fixture_faces(FACES_DIR).values() for f in group]


@pytest.fixture(scope="module")
def blazeface() -> BlazeFaceDetector:
    detector = BlazeFaceDetector(MODEL)
    detector.open()
    return detector


# ---------------------------------------------------------------------------------------------
# Anchors, decoding, suppression


def test_anchors_follow_the_short_range_layout() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    # Stride 8: a 16x16 grid, 2 anchors per cell, row-major, centres at (i + 0.5) / 16.
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[32], [0.5 / 16, 1.5 / 16])
    # Stride 16 (three layers merged): an 8x8 grid, 6 anchors per cell, from index 512.
    np.testing.assert_allclose(anchors[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(anchors[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_decode_boxes_offsets_from_the_anchor_in_input_pixels() -> None:
    anchors = np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)
    raw = np.zeros((2, 16), np.float32)
    raw[0, :4] = [0, 0, 64, 32]  # centred on its anchor, half the input wide, a quarter high
    raw[1, :4] = [12.8, -12.8, 25.6, 25.6]  # moved +0.1, -0.1; 0.2 wide and high
    boxes = decode_boxes(raw, anchors)
    np.testing.assert_allclose(boxes[0], [0.25, 0.375, 0.75, 0.625], atol=1e-6)
    np.testing.assert_allclose(boxes[1], [0.25, 0.55, 0.45, 0.75], atol=1e-6)


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


def test_letterbox_pads_black_and_maps_boxes_back_to_frame_pixels() -> None:
    box = Letterbox(128)
    canvas = box.fit(np.full((480, 640), 200, np.uint8))
    assert canvas.shape == (128, 128)
    assert canvas[:16].max() == 0 and canvas[112:].max() == 0 and canvas[16:112].min() == 200
    inner = np.array([[0.0, 16 / 128, 1.0, 112 / 128]], np.float32)
    np.testing.assert_allclose(box.to_frame(inner), [[0, 0, 640, 480]], atol=1e-3)
    # A portrait frame pads left and right, and the canvas is re-laid for the new shape.
    canvas = box.fit(np.full((640, 320), 90, np.uint8))
    assert canvas[:, :32].max() == 0 and canvas[:, 96:].max() == 0 and canvas[:, 32:96].min() == 90


def test_boxes_are_clipped_to_the_frame_and_small_ones_dropped() -> None:
    boxes = np.array([[-20, -10, 100, 90], [600, 400, 700, 520], [10, 10, 20, 20]], np.float32)
    faces = boxes_to_faces(boxes, np.array([0.9, 0.8, 0.7]), (480, 640), min_size_px=24)
    assert faces == [
        Face(0, 0, 100, 90, pytest.approx(0.9)),
        Face(600, 400, 40, 80, pytest.approx(0.8)),
    ]


# ---------------------------------------------------------------------------------------------
# The real BlazeFace model on real faces


@pytest.mark.parametrize(("face_px", "center"), PLACEMENTS)
def test_blazeface_finds_every_composed_face(
    blazeface: BlazeFaceDetector, all_faces: list[np.ndarray], face_px: int, center: tuple[int, int]
) -> None:
    rng = np.random.default_rng(face_px)
    truth = face_box(face_px, center)
    found, overlaps = 0, []
    for face in all_faces:
        detections = blazeface.detect(compose_frame(face, face_px=face_px, center=center, rng=rng))
        if detections:
            found += 1
            overlaps.append(box_iou(detections[0], truth))
            assert len(detections) == 1, "one person, one box"
    assert found >= len(all_faces) - 1, f"found {found} of {len(all_faces)} faces"
    assert np.median(overlaps) > 0.55
    assert min(overlaps) > 0.3


def test_blazeface_finds_nothing_in_empty_rooms(blazeface: BlazeFaceDetector) -> None:
    rng = np.random.default_rng(11)
    false_alarms = sum(len(blazeface.detect(compose_frame(None, rng=rng))) for _ in range(60))
    assert false_alarms == 0
    assert blazeface.detect(np.zeros((480, 640), np.uint8)) == []


def test_blazeface_handles_any_frame_size(
    blazeface: BlazeFaceDetector, all_faces: list[np.ndarray]
) -> None:
    rng = np.random.default_rng(5)
    frame = compose_frame(all_faces[3], size=(320, 480), face_px=120, center=(160, 200), rng=rng)
    (face,) = blazeface.detect(frame)
    assert box_iou(face, face_box(120, (160, 200))) > 0.4
    assert face.x >= 0 and face.x + face.w <= 320 and face.y + face.h <= 480


def test_min_size_filters_faces(all_faces: list[np.ndarray]) -> None:
    frame = compose_frame(
        all_faces[0], face_px=160, center=(320, 240), rng=np.random.default_rng(2)
    )
    assert BlazeFaceDetector(MODEL, min_size_px=100).detect(frame)
    assert BlazeFaceDetector(MODEL, min_size_px=300).detect(frame) == []


def test_blazeface_rejects_a_missing_or_wrong_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        BlazeFaceDetector(tmp_path / "nope.tflite").open()
    emotion_model = REPO / "models" / "retired" / "emotion_int8.tflite"
    if emotion_model.is_file():
        with pytest.raises(ValueError, match="expected a float32 input"):
            BlazeFaceDetector(emotion_model).open()


def test_make_detector_follows_the_config() -> None:
    room = make_detector(config_mod.from_dict({"faces": {"min_score": 0.7, "reach_m": 4.0}}))
    assert isinstance(room, RoomDetector)
    assert (room.min_score, room.model_path) == (0.7, MODEL)
    # 4 m through the default 66 degree lens in a 1280 px frame: a face box about 37 px wide
    assert 36.0 < room.smallest_face_px < 38.0
    single = {"faces": {"min_score": 0.7, "min_size_px": 40, "reach_m": 0}}
    blaze = make_detector(config_mod.from_dict(single))
    assert isinstance(blaze, BlazeFaceDetector)
    assert (blaze.min_score, blaze.min_size_px, blaze.model_path) == (0.7, 40, MODEL)
    haar = make_detector(
        config_mod.from_dict({"faces": {"detector": "haar", "haar_cascade": "/x.xml"}})
    )
    assert isinstance(haar, HaarDetector) and haar.cascade_path == Path("/x.xml")


# ---------------------------------------------------------------------------------------------
# Haar (needs an OpenCV with CascadeClassifier and a cascade file; OpenCV 5 wheels lack both)


def _haar_or_skip() -> HaarDetector:
    detector = HaarDetector(min_neighbors=3, min_size_px=48)
    try:
        detector.open()
    except HaarUnavailable as exc:
        pytest.skip(str(exc))
    return detector


@pytest.mark.slow
def test_haar_finds_most_faces_and_nothing_in_empty_rooms(all_faces: list[np.ndarray]) -> None:
    haar = _haar_or_skip()
    rng = np.random.default_rng(3)
    hits = 0
    for face in all_faces:
        frame = compose_frame(face, face_px=180, center=(320, 240), rng=rng)
        hits += any(box_iou(f, face_box(180, (320, 240))) > 0.3 for f in haar.detect(frame))
    assert hits >= 0.7 * len(all_faces)
    assert sum(len(haar.detect(compose_frame(None, rng=rng))) for _ in range(20)) <= 1


def test_haar_reports_what_is_missing(tmp_path: Path) -> None:
    if not hasattr(cv2, "CascadeClassifier"):
        with pytest.raises(HaarUnavailable, match="CascadeClassifier"):
            HaarDetector(tmp_path / "x.xml").open()
    with pytest.raises(HaarUnavailable, match=r"faces\.haar_cascade"):
        haar_cascade_path("no_such_cascade.xml", extra_dirs=[tmp_path])


# ---------------------------------------------------------------------------------------------
# select, crop, equalize


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
