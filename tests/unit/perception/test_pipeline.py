"""Perception with real models on composed frames of real faces; bad frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moodpi import config as config_mod
from moodpi.lab.replaygen import compose_frame, face_box, load_fixture_faces
from moodpi.perception.classify.emotion import EmotionClassifier
from moodpi.perception.classify.model_card import Sidecar
from moodpi.perception.detect.whole_frame import WholeFrameDetector
from moodpi.perception.image import to_grey
from moodpi.perception.pipeline import Perception, build_perception
from moodpi.perception.tflite import load_interpreter
from moodpi.types import EMOTIONS, Frame

REPO = Path(__file__).resolve().parents[3]
FACES_DIR = REPO / "tests" / "fixtures" / "faces"
EMOTION_MODEL = REPO / "models" / "retired" / "emotion_int8.tflite"
# The faces here are 130-240 px in 640x480 frames (within 1 m): a sweep down to 1.5 m finds
# them; the default 4.5 m reach would spend most of a still image's sweep on tiles for far faces.
NEAR: dict[str, Any] = {"faces": {"reach_m": 1.5}}


@pytest.fixture(scope="module")
def perception() -> Perception:
    return build_perception(config_mod.from_dict(NEAR))


@pytest.fixture(scope="module")
def labelled_faces() -> list[tuple[str, np.ndarray]]:
    return [(e, f) for e, group in load_fixture_faces(FACES_DIR).items() for f in group]


def frame_of(image: np.ndarray, index: int = 0) -> Frame:
    return Frame(image=image, t=index / 10.0, index=index)


def test_perception_agrees_with_the_classifier_on_the_bare_face(
    perception: Perception, labelled_faces: list[tuple[str, np.ndarray]]
) -> None:
    rng = np.random.default_rng(21)
    agree, present = 0, 0
    for i, (_, face) in enumerate(labelled_faces):
        bare = EMOTIONS[int(np.argmax(perception.classifier.classify(face)))]
        face_px = 130 + (i % 4) * 30
        center = (260 + (i % 3) * 60, 230)
        seen = perception.observe_still(
            frame_of(compose_frame(face, face_px=face_px, center=center, rng=rng), i)
        )
        present += seen.face_present
        if seen.face_present:
            (prediction,) = seen.predictions  # `largest`: one face, one prediction
            assert prediction.probs.shape == (7,)
            assert prediction.probs.sum() == pytest.approx(1.0, abs=1e-3)
            agree += prediction.emotion == bare
    assert present >= len(labelled_faces) - 1
    # Upscaling, the soft border and the detector's box change some crops; most must agree
    # (measured: about 80 %).
    assert agree >= 0.65 * len(labelled_faces), f"{agree} of {len(labelled_faces)} agree"


def test_empty_rooms_give_no_prediction(perception: Perception) -> None:
    rng = np.random.default_rng(8)
    for i in range(20):
        seen = perception.observe_still(frame_of(compose_frame(None, rng=rng), i))
        assert not seen.face_present and seen.t == pytest.approx(i / 10.0)


def test_colour_frames_are_converted(
    perception: Perception, labelled_faces: list[tuple[str, np.ndarray]]
) -> None:
    grey = compose_frame(
        labelled_faces[0][1], face_px=180, center=(320, 240), rng=np.random.default_rng(3)
    )
    bgr = np.repeat(grey[:, :, None], 3, axis=2)
    from_grey = perception.observe_still(frame_of(grey)).predictions[0]
    from_bgr = perception.observe_still(frame_of(bgr)).predictions[0]
    assert from_bgr.face == from_grey.face
    np.testing.assert_allclose(from_bgr.probs, from_grey.probs, atol=1e-6)
    assert to_grey(grey[:, :, None]).shape == (480, 640)
    bgra = np.concatenate([bgr, np.full_like(grey[:, :, None], 255)], axis=2)
    np.testing.assert_array_equal(to_grey(bgra), to_grey(bgr))  # one rule for every source


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((480, 640), np.float32),
        np.zeros((480, 640, 2), np.uint8),
        np.zeros(640, np.uint8),
        np.zeros((8, 8), np.uint8),
        [[0, 1], [2, 3]],
        None,
    ],
    ids=["float", "2-channel", "1-d", "tiny", "list", "none"],
)
def test_bad_frames_raise_value_error_and_change_nothing(
    perception: Perception, image: object
) -> None:
    before = perception.frames
    with pytest.raises(ValueError):
        perception.observe(Frame(image=image, t=0.0, index=0))  # type: ignore[arg-type]
    assert perception.frames == before


def test_all_policy_classifies_every_face(labelled_faces: list[tuple[str, np.ndarray]]) -> None:
    rng = np.random.default_rng(6)
    left = compose_frame(labelled_faces[24][1], face_px=150, center=(170, 220), rng=rng)
    both = compose_frame(
        labelled_faces[40][1], face_px=120, center=(480, 240), rng=rng, background=left
    )
    everyone = build_perception(config_mod.from_dict({"faces": {**NEAR["faces"], "select": "all"}}))
    seen = everyone.observe_still(frame_of(both))
    assert len(seen.predictions) == 2
    assert seen.predictions[0].face.area > seen.predictions[1].face.area
    largest = build_perception(config_mod.from_dict(NEAR)).observe_still(frame_of(both))
    (only,) = largest.predictions
    assert only.face == seen.predictions[0].face
    x, y, w, h = face_box(150, (170, 220))
    assert (
        x <= only.face.x + only.face.w // 2 <= x + w
        and y <= only.face.y + only.face.h // 2 <= y + h
    )


def test_timings_are_kept(labelled_faces: list[tuple[str, np.ndarray]]) -> None:
    fresh = build_perception(
        config_mod.from_dict({"faces": {**NEAR["faces"], "equalize": "clahe"}})
    )
    assert fresh.timings() == {"detect_ms": 0.0, "classify_ms": 0.0}
    frame = compose_frame(
        labelled_faces[5][1], face_px=160, center=(320, 240), rng=np.random.default_rng(1)
    )
    assert fresh.observe_still(frame_of(frame)).face_present
    assert fresh.last_detect_ms > 0 and fresh.last_classify_ms > 0
    assert fresh.timings()["detect_ms"] > 0 and fresh.frames == 1 and fresh.faces_classified == 1


def test_models_are_checked_when_built(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        build_perception(
            config_mod.from_dict({"emotion": {"model": str(tmp_path / "none.tflite")}})
        )
    odd_labels = Sidecar(labels=tuple(reversed(EMOTIONS)))
    classifier = EmotionClassifier(
        load_interpreter(EMOTION_MODEL), model_path=EMOTION_MODEL, sidecar=odd_labels
    )
    with pytest.raises(ValueError, match="FER-2013 order"):
        Perception(
            WholeFrameDetector(REPO / "models" / "face_detection_short_range.tflite"), classifier
        )
