"""The second look: the face landmark model keeps real faces and drops clutter (real model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodpi import config as config_mod
from moodpi.lab.scene import badge, clutter_frame, lamp, screen
from moodpi.perception.detect.faces import VerifiedDetector, make_detector
from moodpi.perception.detect.verify import FaceVerifier, VerdictMemory
from moodpi.types import Face
from tests.support.daemon import REPO

LANDMARKS = REPO / "models" / "face_landmark.tflite"
PHOTOS = REPO / "tests" / "fixtures" / "photos" / "images"


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    v = FaceVerifier(LANDMARKS)
    v.open()
    return v


def test_memory_recalls_an_overlapping_box_until_it_expires() -> None:
    memory = VerdictMemory(memory_frames=3)
    logo = Face(100, 100, 40, 40)
    memory.remember(logo, False, frame=1)
    assert memory.recall(Face(104, 102, 40, 40), frame=2) is False  # the same place
    assert memory.recall(Face(300, 100, 40, 40), frame=2) is None  # somewhere else: ask
    assert memory.recall(logo, frame=4) is None  # forgotten after 3 frames


def test_memory_follows_a_face_that_moves() -> None:
    memory = VerdictMemory(memory_frames=3)
    memory.remember(Face(100, 100, 40, 40), True, frame=1)
    for frame, x in enumerate(range(106, 160, 6), start=2):  # walks 6 px a frame
        assert memory.recall(Face(x, 100, 40, 40), frame) is True


def test_real_faces_are_faces(verifier: FaceVerifier) -> None:
    detector = make_detector(config_mod.from_dict({"faces": {"verify_model": ""}}))
    scored = 0
    for path in sorted(PHOTOS.glob("*.jpg")):
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        for face in detector.scan(grey)[:1]:
            assert verifier.presence(grey, face) > 0.8, path.name
            scored += 1
    assert scored >= 8


def test_a_far_face_is_still_a_face(verifier: FaceVerifier) -> None:
    detector = make_detector(config_mod.from_dict({"faces": {"verify_model": ""}}))
    grey = cv2.imread(str(sorted(PHOTOS.glob("*.jpg"))[0]), cv2.IMREAD_GRAYSCALE)
    face = detector.scan(grey)[0]
    k = 36 / face.w  # a face 36 px wide: about 4 m away in a 1280x720 frame
    small = cv2.resize(grey, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    box = Face(round(face.x * k), round(face.y * k), round(face.w * k), round(face.h * k))
    assert verifier.presence(small, box) > 0.5


@pytest.mark.parametrize("render", [badge, screen, lamp])
def test_rendered_clutter_is_not_a_face(verifier: FaceVerifier, render) -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        item = render(rng, 96)
        assert verifier.presence(item, Face(16, 16, 64, 64)) < 0.5


def test_the_verified_detector_drops_the_false_faces_of_a_cluttered_room() -> None:
    raw = make_detector(config_mod.from_dict({"faces": {"verify_model": ""}}))
    verified = make_detector(config_mod.from_dict({}))
    assert isinstance(verified, VerifiedDetector)
    rng = np.random.default_rng(1)
    frames = [clutter_frame(rng, (1280, 720), count=12) for _ in range(8)]
    false_raw = sum(len(raw.scan(grey)) for grey in frames)
    false_verified = sum(len(verified.scan(grey)) for grey in frames)
    assert false_raw >= 3  # the clutter fools the detector alone ...
    assert false_verified == 0  # ... and the second look sees through it


def _stream(detector, grey: np.ndarray, frames: int) -> list[list[Face]]:
    detector.reset()
    return [detector.detect(grey) for _ in range(frames)]


def test_a_stream_asks_the_model_once_per_box_not_once_per_frame() -> None:
    verified = make_detector(config_mod.from_dict({}))
    assert isinstance(verified, VerifiedDetector)
    rng = np.random.default_rng(1)
    for _ in range(20):  # an empty room whose clutter the room detector confirms as faces
        grey = clutter_frame(rng, (1280, 720), 12)
        raw = _stream(verified.inner, grey, 60)
        if sum(map(len, raw)) > 10:
            break
    else:
        pytest.fail("no clutter frame fooled the room detector")
    boxes = {(f.x // 20, f.y // 20) for faces in raw for f in faces}
    before = verified.verifier.looks
    assert all(faces == [] for faces in _stream(verified, grey, 60))
    # each false box is looked at once per memory (30 frames), not on each of the 60 frames
    assert 0 < verified.verifier.looks - before <= 3 * len(boxes)


def test_a_still_cut_around_a_face_is_taken_as_it_is() -> None:
    # A verifier that refuses everything (no presence reaches 1.01) shows the rule: the face a
    # still was cut around is kept, the same face in a larger picture needs the second look.
    inner = make_detector(config_mod.from_dict({"faces": {"verify_model": ""}}))
    strict = VerifiedDetector(inner, FaceVerifier(LANDMARKS, min_score=1.01))
    grey = cv2.imread(str(sorted(PHOTOS.glob("*.jpg"))[0]), cv2.IMREAD_GRAYSCALE)
    face = inner.scan(grey)[0]
    crop = grey[face.y : face.y + face.h, face.x : face.x + face.w]
    crop = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)  # a film frame's size
    assert strict.scan(crop), "the portrait's face is kept"
    framed = np.full((720, 1280), 128, np.uint8)
    framed[300:650, 500:850] = grey
    assert inner.scan(framed) and strict.scan(framed) == []
