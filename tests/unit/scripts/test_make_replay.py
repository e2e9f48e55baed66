"""scripts/make_replay.py: the plan of a labelled replay's segments; the faces it labels by FER+'s
clear majority where the votes lie beside them."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.support.daemon import REPO


@pytest.fixture(scope="module")
def make_replay() -> ModuleType:
    script = REPO / "scripts" / "make_replay.py"
    spec = importlib.util.spec_from_file_location("make_replay", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_replay_plans_calm_but_varied_segments(make_replay: ModuleType) -> None:
    emotions = ["happy", "surprise", "neutral", "sad", "angry"]
    for seed in range(20):
        rng = np.random.default_rng(seed)
        plan = make_replay.plan_segments(emotions, 20, rng, min_s=5.0, max_s=15.0)
        faces = [e for e, _ in plan if e is not None]
        assert len(plan) == 20 and plan[0][0] is not None
        assert all(5.0 <= d <= 15.0 and round(d, 1) == d for _, d in plan)
        assert 1 <= sum(e is None for e, _ in plan) <= 4  # a few empty rooms
        assert all(a != b for a, b in itertools.pairwise(faces))  # every one a change
        assert all(a[0] is not None or b[0] is not None for a, b in itertools.pairwise(plan))
        assert set(faces) == set(emotions) and max(map(faces.count, emotions)) <= 5


def write_faces_and_votes(data: Path) -> Path:
    """data/fer2013/public_test.npz and data/ferplus/public_test.npz, as ../shared/data has them:
    FER-2013 says angry for the first 10 faces, the crowd happy; both say sad for the others."""
    (data / "fer2013").mkdir(parents=True)
    (data / "ferplus").mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 48, 48), dtype=np.uint8)
    names = np.array([f"PublicTest_{i}.jpg" for i in range(20)])
    np.savez(
        data / "fer2013" / "public_test.npz",
        images=images,
        labels=np.repeat([0, 4], 10),
        names=names,
    )
    votes = np.zeros((20, 10), dtype=np.int16)
    votes[:10, 1] = 10  # happiness
    votes[10:, 3] = 10  # sadness
    np.savez(data / "ferplus" / "public_test.npz", votes=votes, names=names)
    return data / "fer2013" / "public_test.npz"


def test_make_replay_labels_faces_by_the_votes_beside_them(
    make_replay: ModuleType, tmp_path: Path
) -> None:
    npz = write_faces_and_votes(tmp_path / "data")
    args = ["--npz", str(npz), "--segments", "3", "--fps", "2", "--min-s", "1", "--max-s", "1"]
    out = tmp_path / "replay"
    assert make_replay.main([*args, "--emotions", "happy,sad", "--out", str(out)]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["faces"] == {
        "npz": str(npz),
        "labels": "ferplus_majority",
        "votes": str(tmp_path / "data" / "ferplus" / "public_test.npz"),
    }
    assert {s["emotion"] for s in truth["segments"]} <= {"happy", "sad", None}
    # FER-2013's own labels: no face is happy
    with pytest.raises(ValueError, match="no faces given for emotion 'happy'"):
        make_replay.main([*args, "--emotions", "happy,sad", "--out", str(out), "--force",
                          "--original-labels"])  # fmt: skip
    assert make_replay.main([*args, "--emotions", "angry,sad", "--out", str(out), "--force",
                             "--original-labels"]) == 0  # fmt: skip
    assert json.loads((out / "truth.json").read_text())["faces"]["labels"] == "original"


def test_the_room_holds_clutter_around_where_people_sit(make_replay: ModuleType) -> None:
    bare = make_replay.make_background(make_replay.SIZE, np.random.default_rng(7))
    room = make_replay.cluttered_room(7, 12)
    changed = np.abs(room - bare) > 1.0
    x, y, w, h = make_replay.face_zone(make_replay.SIZE)
    assert not changed[y : y + h, x : x + w].any()  # never behind a face
    assert changed.mean() > 0.02  # but there: a dozen items of up to 90 px
    assert np.array_equal(make_replay.cluttered_room(7, 0), bare)
    assert np.array_equal(make_replay.cluttered_room(7, 12), room)  # the seed's room, always


def test_make_replay_says_what_is_in_the_room(make_replay: ModuleType, tmp_path: Path) -> None:
    npz = write_faces_and_votes(tmp_path / "data")
    args = ["--npz", str(npz), "--segments", "2", "--fps", "1", "--min-s", "1", "--max-s", "1",
            "--emotions", "happy,sad"]  # fmt: skip
    for clutter in ("0", "5"):
        out = tmp_path / f"replay-{clutter}"
        assert make_replay.main([*args, "--clutter", clutter, "--out", str(out)]) == 0
        truth = json.loads((out / "truth.json").read_text())
        assert truth["scene"] == {"clutter_items": int(clutter)}
    with pytest.raises(SystemExit):
        make_replay.main([*args, "--clutter", "-1", "--out", str(tmp_path / "bad")])
