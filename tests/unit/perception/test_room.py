"""The room-scale detector: the real BlazeFace model on real faces composed near and far."""

from __future__ import annotations

import numpy as np
import pytest

from moodpi.lab.replaygen import compose_frame, face_box, make_background
from moodpi.perception.detect.room import RoomDetector
from moodpi.perception.detect.whole_frame import WholeFrameDetector
from moodpi.types import Face
from tests.support.faces import BLAZEFACE as MODEL

SIZE = (1280, 720)
FAR_PX = 37  # a face at 4 m through a 66 degree lens, 1280 px wide


@pytest.fixture(scope="module")
def faces(all_faces: list[np.ndarray]) -> list[np.ndarray]:
    return all_faces[::7]


def hits(found: list[Face], box: tuple[int, int, int, int]) -> bool:
    x, _, w, _ = box
    return any(abs(f.x + f.w / 2 - (x + w / 2)) < w / 2 and abs(f.w - w) < w for f in found)


@pytest.mark.slow
def test_a_far_face_is_found_within_one_sweep_where_one_whole_frame_pass_is_blind(
    faces: list[np.ndarray],
) -> None:
    rng = np.random.default_rng(4)
    single = WholeFrameDetector(MODEL)
    found, single_found = 0, 0
    for i, face in enumerate(faces):
        centre = (200 + 80 * i % 900, 260 + 30 * (i % 5))
        frame = compose_frame(face, size=SIZE, face_px=FAR_PX, center=centre, rng=rng)
        room = RoomDetector(MODEL, smallest_face_px=FAR_PX, tiles_per_frame=4)
        seen = [room.detect(frame)]  # the first frame also lays out the sweep
        seen += [room.detect(frame) for _ in range(room.sweep_length // 4 + 1)]
        box = face_box(FAR_PX, centre)
        found += hits(seen[-1], box)
        single_found += hits(single.detect(frame), box)
        assert max(len(s) for s in seen) <= 1, "one person, one box"
    assert found >= len(faces) - 1, f"found {found} of {len(faces)}"
    assert single_found == 0


def test_a_still_image_gives_every_face_at_once_and_an_empty_room_none(
    faces: list[np.ndarray],
) -> None:
    rng = np.random.default_rng(8)
    room = make_background(SIZE, rng)
    near, far = (300, (350, 360)), (FAR_PX, (900, 300))
    with_far = compose_frame(
        faces[1], size=SIZE, face_px=far[0], center=far[1], rng=rng, background=room
    )
    both = compose_frame(
        faces[0], size=SIZE, face_px=near[0], center=near[1], rng=rng, background=with_far
    )
    detector = RoomDetector(MODEL, smallest_face_px=FAR_PX)
    found = detector.scan(both)
    assert len(found) == 2
    assert hits(found, face_box(*near)) and hits(found, face_box(*far))
    empty = compose_frame(None, size=SIZE, rng=rng, background=room)
    assert detector.scan(empty) == []


def test_a_face_that_leaves_is_no_longer_reported_and_cost_stays_bounded(
    faces: list[np.ndarray],
) -> None:
    rng = np.random.default_rng(2)
    room = make_background(SIZE, rng)
    centre = (640, 360)
    with_face = compose_frame(
        faces[2], size=SIZE, face_px=120, center=centre, rng=rng, background=room
    )
    empty = compose_frame(None, size=SIZE, rng=rng, background=room)
    detector = RoomDetector(MODEL, smallest_face_px=FAR_PX, tiles_per_frame=1)
    seen = []
    for _ in range(40):
        before = detector.passes
        seen.append(detector.detect(with_face))
        assert detector.passes - before <= 1 + 1  # one sweep tile + one track window
    assert all(hits(s, face_box(120, centre)) for s in seen[-20:])
    gone = [detector.detect(empty) for _ in range(2)]
    # whichever frame its next check was due: its box changed, so it is looked at at once
    assert gone == [[], []]
    assert sum(len(detector.detect(empty)) for _ in range(60)) == 0


def test_a_face_that_stays_is_not_looked_at_more_often_than_every_other_frame(
    faces: list[np.ndarray],
) -> None:
    rng = np.random.default_rng(2)
    with_face = compose_frame(faces[2], size=SIZE, face_px=120, center=(640, 360), rng=rng)
    detector = RoomDetector(MODEL, smallest_face_px=FAR_PX, tiles_per_frame=1)
    for _ in range(10):
        detector.detect(with_face)
    before = detector.passes
    for _ in range(20):
        detector.detect(with_face)
    assert detector.passes - before <= 20 + 10  # a tile a frame, the face's window every other


def test_a_photo_that_is_all_face_is_found_inside_a_border(faces: list[np.ndarray]) -> None:
    import cv2

    detector = RoomDetector(MODEL, smallest_face_px=FAR_PX)
    # cheek to cheek, nothing around it: a tight portrait crop
    portraits = [
        cv2.resize(f[4:44, 4:44], (200, 200), interpolation=cv2.INTER_CUBIC) for f in faces
    ]
    bare = sum(bool(detector._scan_once(p)) for p in portraits)
    found = [detector.scan(p) for p in portraits]
    assert sum(bool(f) for f in found) == len(portraits) > bare  # the border finds the rest
    for hit, *_ in filter(None, found):
        assert hit.x >= 0 and hit.y >= 0 and hit.x + hit.w <= 200 and hit.y + hit.h <= 200
        assert hit.w > 100  # the face, not a detail of it


def test_someone_who_walks_in_is_found_in_frames_not_a_sweep(faces: list[np.ndarray]) -> None:
    rng = np.random.default_rng(12)
    room = make_background(SIZE, rng)
    empty = compose_frame(None, size=SIZE, rng=rng, background=room)
    waits = []
    for i, face in enumerate(faces[:4]):
        centre = (250 + 230 * i, 300)
        arrived = compose_frame(face, size=SIZE, face_px=FAR_PX, center=centre, rng=rng,
                                background=room)  # fmt: skip
        detector = RoomDetector(MODEL, smallest_face_px=FAR_PX)
        for _ in range(3):
            assert detector.detect(empty) == []
        for frame_no in range(1, 40):
            if hits(detector.detect(arrived), face_box(FAR_PX, centre)):
                waits.append(frame_no)
                break
    sweep = RoomDetector(MODEL, smallest_face_px=FAR_PX).sweep_frames(*SIZE)
    assert len(waits) == 4 and max(waits) <= 4 < sweep / 10, (waits, sweep)
