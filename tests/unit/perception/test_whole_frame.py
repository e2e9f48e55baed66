"""The whole-frame detector (faces.reach_m = 0): the letterbox, and the real BlazeFace model on
frames composed from real FER-2013 faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodpi.lab.replaygen import compose_frame, face_box
from moodpi.perception.detect.whole_frame import Letterbox, WholeFrameDetector
from tests.support.faces import BLAZEFACE as MODEL
from tests.support.faces import box_iou

REPO = Path(__file__).resolve().parents[3]

# (face side px, centre) in a 640x480 frame: near and far, centred and off-centre.
PLACEMENTS = [(130, (200, 200)), (180, (330, 250)), (240, (420, 230))]


@pytest.fixture(scope="module")
def blazeface() -> WholeFrameDetector:
    detector = WholeFrameDetector(MODEL)
    detector.open()
    return detector


def test_letterbox_pads_black_and_maps_boxes_back_to_frame_pixels() -> None:
    box = Letterbox(128)
    canvas = box.fit(np.full((480, 640), 200, np.uint8))
    assert canvas.shape == (128, 128)
    assert canvas[:16].max() == 0 and canvas[112:].max() == 0 and canvas[16:112].min() == 200
    inner = np.array([[0.0, 16.0, 128.0, 112.0]], np.float32)  # canvas pixels
    np.testing.assert_allclose(box.to_frame(inner), [[0, 0, 640, 480]], atol=1e-3)
    # A portrait frame pads left and right, and the canvas is re-laid for the new shape.
    canvas = box.fit(np.full((640, 320), 90, np.uint8))
    assert canvas[:, :32].max() == 0 and canvas[:, 96:].max() == 0 and canvas[:, 32:96].min() == 90


@pytest.mark.parametrize(("face_px", "center"), PLACEMENTS)
def test_blazeface_finds_every_composed_face(
    blazeface: WholeFrameDetector,
    all_faces: list[np.ndarray],
    face_px: int,
    center: tuple[int, int],
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


def test_blazeface_finds_nothing_in_empty_rooms(blazeface: WholeFrameDetector) -> None:
    rng = np.random.default_rng(11)
    false_alarms = sum(len(blazeface.detect(compose_frame(None, rng=rng))) for _ in range(60))
    assert false_alarms == 0
    assert blazeface.detect(np.zeros((480, 640), np.uint8)) == []


def test_blazeface_handles_any_frame_size(
    blazeface: WholeFrameDetector, all_faces: list[np.ndarray]
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
    assert WholeFrameDetector(MODEL, min_size_px=100).detect(frame)
    assert WholeFrameDetector(MODEL, min_size_px=300).detect(frame) == []


def test_blazeface_rejects_a_missing_or_wrong_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WholeFrameDetector(tmp_path / "nope.tflite").open()
    emotion_model = REPO / "models" / "retired" / "emotion_int8.tflite"
    if emotion_model.is_file():
        with pytest.raises(ValueError, match="expected a float32 input"):
            WholeFrameDetector(emotion_model).open()
