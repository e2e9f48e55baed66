"""Generated frames and labelled replays: deterministic, well-formed, with the faces where said."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodpi.lab.fer import VotesError
from moodpi.lab.replaygen import (
    _segment_shots,
    _shot_pose,
    compose_frame,
    face_box,
    face_zone,
    load_faces_npz,
    load_fixture_faces,
    make_background,
    make_labelled_replay,
    room_frames,
)
from moodpi.types import EMOTIONS
from tests.support.daemon import REPO

FACES_DIR = REPO / "tests" / "fixtures" / "faces"


@pytest.fixture(scope="module")
def faces() -> dict[str, list[np.ndarray]]:
    return load_fixture_faces(FACES_DIR)


def test_fixture_faces_load_by_emotion(faces: dict[str, list[np.ndarray]]) -> None:
    assert list(faces) == list(EMOTIONS)
    assert all(len(group) == 8 for group in faces.values())
    assert all(
        f.shape == (48, 48) and f.dtype == np.uint8 for group in faces.values() for f in group
    )


def test_fixture_loader_rejects_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_fixture_faces(tmp_path)


def test_npz_loader_groups_by_label(tmp_path: Path) -> None:
    images = np.arange(5 * 48 * 48, dtype=np.uint32).reshape(5, 48, 48).astype(np.uint8)
    path = tmp_path / "faces.npz"
    np.savez(path, images=images, labels=np.array([3, 0, 3, 6, 3]))
    grouped = load_faces_npz(path, per_emotion=2)
    assert [len(grouped[e]) for e in EMOTIONS] == [1, 0, 0, 2, 0, 0, 1]
    np.testing.assert_array_equal(grouped["happy"][1], images[2])


def test_npz_loader_with_votes_keeps_the_faces_ten_people_agree_on(tmp_path: Path) -> None:
    images = np.arange(5 * 48 * 48, dtype=np.uint32).reshape(5, 48, 48).astype(np.uint8)
    names = np.array([f"PublicTest_{i}.jpg" for i in range(5)])
    path, votes = tmp_path / "faces.npz", tmp_path / "votes.npz"
    np.savez(path, images=images, labels=np.array([3, 0, 3, 6, 4]), names=names)
    # FER+ columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, ...
    ballots = [
        [0, 9, 1, 0, 0, 0, 0, 0, 0, 0],  # happy, as FER-2013 says
        [7, 0, 0, 0, 3, 0, 0, 0, 0, 0],  # FER-2013 said angry; the crowd: neutral
        [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],  # no clear majority: left out
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: left out
        [0, 0, 0, 8, 0, 0, 0, 0, 2, 0],  # sad
    ]
    np.savez(votes, votes=np.array(ballots, dtype=np.int16), names=names)
    grouped = load_faces_npz(path, votes=votes)
    assert {e: len(f) for e, f in grouped.items() if f} == {"happy": 1, "sad": 1, "neutral": 1}
    np.testing.assert_array_equal(grouped["neutral"][0], images[1])
    np.savez(votes, votes=np.array(ballots, dtype=np.int16), names=names[::-1])
    with pytest.raises(VotesError, match=r"votes\.npz row 0: .* the names differ"):
        load_faces_npz(path, votes=votes)


def test_compose_is_deterministic_and_puts_the_face_where_asked(
    faces: dict[str, list[np.ndarray]],
) -> None:
    face = faces["happy"][0]
    one = compose_frame(face, face_px=160, center=(300, 220), rng=np.random.default_rng(4))
    two = compose_frame(face, face_px=160, center=(300, 220), rng=np.random.default_rng(4))
    assert one.shape == (480, 640) and one.dtype == np.uint8
    np.testing.assert_array_equal(one, two)
    x, y, w, h = face_box(160, (300, 220))
    placed = cv2.resize(one[y : y + h, x : x + w], (48, 48), interpolation=cv2.INTER_AREA)
    # The middle of the box is the face itself (the soft border only touches the edges).
    core = (slice(12, 36), slice(12, 36))
    diff = np.abs(placed[core].astype(int) - face[core].astype(int))
    assert np.median(diff) < 6


def test_compose_without_a_face_and_with_a_fixed_room() -> None:
    rng = np.random.default_rng(0)
    room = make_background((320, 240), rng)
    empty = compose_frame(None, size=(320, 240), rng=rng, background=room)
    assert empty.shape == (240, 320)
    assert np.abs(empty.astype(float) - room).mean() < 3  # the room plus sensor noise
    with pytest.raises(ValueError, match="background"):
        compose_frame(None, size=(640, 480), rng=rng, background=room)
    with pytest.raises(ValueError, match="uint8"):
        compose_frame(np.zeros((48, 48), np.float32), rng=rng)


def test_a_face_partly_outside_the_frame_is_clipped(faces: dict[str, list[np.ndarray]]) -> None:
    frame = compose_frame(
        faces["sad"][0], face_px=200, center=(10, 470), rng=np.random.default_rng(1)
    )
    assert frame.shape == (480, 640)


def test_labelled_replay_frames_and_truth(
    tmp_path: Path, faces: dict[str, list[np.ndarray]]
) -> None:
    segments = [("happy", 2.0), (None, 1.0), ("angry", 1.5)]
    out = make_labelled_replay(
        faces, tmp_path / "r", fps=4.0, segments=segments, seed=9, size=(320, 240)
    )
    names = sorted(p.name for p in (out / "frames").iterdir())
    assert names == [f"{i:06d}.jpg" for i in range(18)]  # 4.5 s at 4 fps
    truth = json.loads((out / "truth.json").read_text())
    assert truth["fps"] == 4.0 and truth["frames"] == 18
    assert truth["segments"] == [
        {"emotion": "happy", "start_s": 0.0, "end_s": 2.0},
        {"emotion": None, "start_s": 2.0, "end_s": 3.0},
        {"emotion": "angry", "start_s": 3.0, "end_s": 4.5},
    ]
    frame = cv2.imread(str(out / "frames" / "000000.jpg"), cv2.IMREAD_GRAYSCALE)
    assert frame.shape == (240, 320)
    # Same seed, same replay, byte for byte.
    again = make_labelled_replay(
        faces, tmp_path / "s", fps=4.0, segments=segments, seed=9, size=(320, 240)
    )
    for name in names:
        assert (out / "frames" / name).read_bytes() == (again / "frames" / name).read_bytes()


def test_a_segment_shows_several_faces(tmp_path: Path, faces: dict[str, list[np.ndarray]]) -> None:
    out = make_labelled_replay(
        faces, tmp_path, fps=2.0, segments=[("fear", 8.0)], seed=1, size=(320, 240)
    )
    frames = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((out / "frames").iterdir())]
    assert len(frames) == 16
    # Faces change every 1-2 s: successive frames differ, by a lot at least a few times.
    changes = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in itertools.pairwise(frames)]
    assert sum(c > 3 for c in changes) >= 3


def test_bad_replay_requests_are_refused(
    tmp_path: Path, faces: dict[str, list[np.ndarray]]
) -> None:
    with pytest.raises(ValueError, match="no faces"):
        make_labelled_replay({"happy": []}, tmp_path, fps=5, segments=[("happy", 1.0)], seed=0)
    with pytest.raises(ValueError, match="fps"):
        make_labelled_replay(faces, tmp_path, fps=0, segments=[("happy", 1.0)], seed=0)
    with pytest.raises(ValueError, match="durations"):
        make_labelled_replay(faces, tmp_path, fps=5, segments=[(None, 0.0)], seed=0)


def test_shots_cycle_through_different_faces_for_1_to_2_s() -> None:
    pool = [np.full((48, 48), v, np.uint8) for v in (10, 20, 30, 40)]
    shots = list(_segment_shots(pool, 9.0, np.random.default_rng(2)))
    holds = [hold_s for _, hold_s in shots]
    assert sum(holds) == pytest.approx(9.0)
    assert all(1.0 <= h <= 2.0 for h in holds[:-1]) and 0 < holds[-1] <= 2.0
    shown = [int(face[0, 0]) for face, _ in shots]
    assert len(set(shown[:4])) == 4, "the first four shots show four different faces"
    assert all(a != b for a, b in itertools.pairwise(shown))


def test_room_frames_are_one_room_with_a_face_each_and_repeat_with_the_seed() -> None:
    """What `moodpi bench` times when no replay is given."""
    frames = room_frames(3, seed=1, size=(320, 240))
    assert [(f.shape, f.dtype) for f in frames] == [((240, 320), np.uint8)] * 3
    again = room_frames(3, seed=1, size=(320, 240))
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))
    assert not np.array_equal(frames[0], room_frames(1, seed=2, size=(320, 240))[0])


def test_every_shot_pose_falls_inside_the_face_zone() -> None:
    size = (640, 480)
    x0, y0, w, h = face_zone(size)
    rng = np.random.default_rng(3)
    for _ in range(2000):
        px, (cx, cy) = _shot_pose(size, rng)
        px = int(px * 1.03)  # the per-frame size jitter
        for dx, dy in ((-4, -4), (4, 4)):  # and the per-frame place jitter
            left, top = cx + dx - px // 2, cy + dy - px // 2
            assert x0 <= left and left + px <= x0 + w
            assert y0 <= top and top + px <= y0 + h


def test_a_given_room_is_the_backdrop_and_the_faces_stay_the_same(
    tmp_path: Path, faces: dict[str, list[np.ndarray]]
) -> None:
    size = (320, 240)
    segments = [("happy", 1.0), (None, 1.0)]
    bare = make_labelled_replay(faces, tmp_path / "bare", fps=2.0, segments=segments, seed=4,
                                size=size)  # fmt: skip
    room = make_background(size, np.random.default_rng(4))
    room[:20, :20] = 255.0  # a bright poster in the corner, away from every face
    lit = make_labelled_replay(faces, tmp_path / "lit", fps=2.0, segments=segments, seed=4,
                               size=size, room=room, scene={"clutter_items": 1})  # fmt: skip
    for name in ("000000.jpg", "000003.jpg"):
        a = cv2.imread(str(bare / "frames" / name), cv2.IMREAD_GRAYSCALE).astype(int)
        b = cv2.imread(str(lit / "frames" / name), cv2.IMREAD_GRAYSCALE).astype(int)
        assert b[2:16, 2:16].mean() > 240 > a[2:16, 2:16].mean() + 40  # the poster is there
        assert np.abs(a[60:, 60:] - b[60:, 60:]).mean() < 1.0  # the rest, faces too, unchanged
    assert json.loads((lit / "truth.json").read_text())["scene"] == {"clutter_items": 1}
    with pytest.raises(ValueError, match="room shape"):
        make_labelled_replay(faces, tmp_path / "x", fps=2.0, segments=segments, seed=4,
                             size=size, room=room[:100])  # fmt: skip
