"""`moodpi classify`: photos of real faces through the daemon's pipeline, and bad images.

The photos are the bundled FER-2013 fixture faces (tests/fixtures/faces) set into room-like
640x480 frames by lab.replaygen, as the demo replay does: real faces, where they are known.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import msgspec
import numpy as np
import pytest

from moodpi import config as config_mod
from moodpi.cli.classify import EX_NOINPUT, Music, StillCamera, classify, read_frame
from moodpi.lab.replaygen import compose_frame, face_box, load_fixture_faces
from moodpi.music.library.library import Library
from moodpi.music.track import Track
from moodpi.perception.pipeline import build_perception
from moodpi.types import EMOTIONS, MoodChange
from tests.conftest import FIXTURE_FACES
from tests.support.environ import child_env
from tests.support.pace import seconds

NEAR = (180, (190, 230))  # face size in px, centre: the larger face
FAR = (140, (470, 220))


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two happy people (PNG), one neutral face (JPEG), an empty room, and bad files."""
    faces = load_fixture_faces(FIXTURE_FACES)
    rng = np.random.default_rng(1)
    folder = tmp_path_factory.mktemp("photos")
    near = compose_frame(faces["happy"][6], face_px=NEAR[0], center=NEAR[1], rng=rng)
    two = compose_frame(faces["happy"][0], face_px=FAR[0], center=FAR[1], rng=rng, background=near)
    one = compose_frame(faces["neutral"][2], face_px=160, center=(320, 240), rng=rng)
    paths = {name: folder / name for name in ("two.png", "one.jpg", "nobody.png")}
    cv2.imwrite(str(paths["two.png"]), two)
    cv2.imwrite(str(paths["one.jpg"]), one, [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(paths["nobody.png"]), compose_frame(None, rng=rng))
    data = paths["two.png"].read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image, just text\n")
    (folder / "a_folder.png").mkdir()
    return {p.name: p for p in folder.iterdir()}


@pytest.fixture(scope="module")
def perception() -> StillCamera:
    config = config_mod.from_dict({"faces": {"select": "all"}})
    return StillCamera(lambda: build_perception(config))


def run(paths: list[Path], perception: StillCamera, music: Music | None = None, *, as_json: bool):
    out, err = io.StringIO(), io.StringIO()
    status = classify([str(p) for p in paths], perception, music, as_json=as_json, out=out, err=err)
    return status, out.getvalue().splitlines(), err.getvalue().splitlines()


def iou(box: list[int], truth: tuple[int, int, int, int]) -> float:
    (ax, ay, aw, ah), (bx, by, bw, bh) = box, truth
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def test_json_gives_every_face_largest_first_with_box_score_and_probabilities(
    photos: dict[str, Path], perception: StillCamera
) -> None:
    status, lines, err = run([photos["two.png"], photos["one.jpg"]], perception, as_json=True)
    assert status == 0 and err == []
    two, one = (json.loads(line) for line in lines)
    assert set(two) == {"image", "width", "height", "faces", "music"}
    assert (two["image"], two["width"], two["height"]) == (str(photos["two.png"]), 640, 480)
    assert len(two["faces"]) == 2
    near, far = two["faces"]
    assert near["box"][2] > far["box"][2]  # largest first
    assert iou(near["box"], face_box(*NEAR)) > 0.5 and iou(far["box"], face_box(*FAR)) > 0.5
    for face in two["faces"]:
        assert set(face) == {"box", "score", "emotion", "confidence", "probabilities"}
        assert all(isinstance(v, int) for v in face["box"])
        assert 0.0 < face["score"] <= 1.0
        assert list(face["probabilities"]) == list(EMOTIONS)
        assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=0.01)
        assert face["confidence"] == max(face["probabilities"].values())
        assert face["emotion"] == max(face["probabilities"], key=face["probabilities"].get)
        assert face["emotion"] == "happy"  # both are clear smiles the model reads at 0.9+
    assert two["music"] is None  # no music library configured
    assert len(one["faces"]) == 1 and one["faces"][0]["emotion"] == "neutral"


def test_an_empty_room_is_no_face_and_no_music(photos: dict[str, Path], perception: StillCamera):
    music = Music(Library.from_tracks([]), "mirror", config_mod.from_dict({}).music)
    status, lines, _ = run([photos["nobody.png"]], perception, music, as_json=True)
    assert status == 0
    assert json.loads(lines[0])["faces"] == [] and json.loads(lines[0])["music"] is None


BAD = {
    "missing.png": "no such file",
    "truncated.png": "not an image",
    "empty.png": "empty file",
    "notes.jpg": "not an image",
    "a_folder.png": "is a directory",
}


def test_bad_images_get_their_own_error_lines_and_the_rest_is_classified(
    photos: dict[str, Path], perception: StillCamera
) -> None:
    missing = photos["two.png"].parent / "missing.png"
    paths = [photos["truncated.png"], photos["two.png"], photos["empty.png"], missing]
    paths += [photos["notes.jpg"], photos["a_folder.png"], photos["one.jpg"]]
    status, lines, err = run(paths, perception, as_json=True)
    assert status == EX_NOINPUT
    docs = [json.loads(line) for line in lines]
    assert [d["image"] for d in docs] == [str(p) for p in paths]  # one line each, in order
    for doc, path in zip(docs, paths, strict=True):
        if path.name in BAD:
            assert set(doc) == {"image", "error"} and BAD[path.name] in doc["error"]
        else:
            assert len(doc["faces"]) >= 1
    assert len(err) == len(BAD)
    assert all(line.startswith("classify: ") for line in err)

    status, table, err = run(paths, perception, as_json=False)  # the table: errors on stderr only
    assert status == EX_NOINPUT and len(err) == len(BAD)
    assert not any(name in "\n".join(table) for name in BAD)


def test_read_frame_refuses_what_is_no_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="not a regular file"):  # a FIFO would block for ever
        read_frame(str(fifo))


def test_table_lists_faces_and_what_the_policy_would_play(
    photos: dict[str, Path], perception: StillCamera
) -> None:
    tracks = [
        Track(Path(f"/m/{c}/{c}_{i}.ogg"), c, 30.0, f"{c} song {i}")
        for c in ("happy", "upbeat", "ambient")
        for i in range(3)
    ]
    music_config = config_mod.from_dict({}).music
    mirror = Music(Library.from_tracks(tracks), "mirror", music_config)
    status, lines, _ = run([photos["two.png"]], perception, mirror, as_json=False)
    assert status == 0
    assert lines[0].startswith(f"{photos['two.png']}  640x480  2 faces")
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"]
    assert "happy" in lines[2] and lines[4].startswith("  music (mirror for happy): happy song")

    uplift = Music(Library.from_tracks(tracks), "uplift", music_config)
    doc = json.loads(run([photos["two.png"]], perception, uplift, as_json=True)[1][0])
    assert doc["music"]["policy"] == "uplift" and doc["music"]["categories"] == ["upbeat"]
    assert {t["category"] for t in doc["music"]["tracks"]} == {"upbeat"}
    assert len(doc["music"]["tracks"]) == 5
    again = json.loads(run([photos["two.png"]], perception, uplift, as_json=True)[1][0])
    assert again["music"] == doc["music"]  # the same photo gives the same songs


def test_the_command_line_with_a_music_folder(
    photos: dict[str, Path], music_root: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "{music_root}"\npolicy = "mirror"\n'
    )
    env = child_env()
    command = [sys.executable, "-m", "moodpi", "classify", "--config", str(config), "--json"]
    images = [str(photos["two.png"]), str(photos["empty.png"])]
    result = subprocess.run(
        [*command, *images], capture_output=True, text=True, env=env, timeout=seconds(60)
    )
    assert result.returncode == EX_NOINPUT, result.stderr
    good, bad = (json.loads(line) for line in result.stdout.splitlines())
    assert good["faces"][0]["emotion"] == "happy"
    music = good["music"]
    assert music["policy"] == "mirror" and music["categories"] == ["happy"]
    assert music["tracks"] and all(Path(t["path"]).is_file() for t in music["tracks"])
    assert {t["category"] for t in music["tracks"]} == {"happy"}
    assert bad == {"image": str(photos["empty.png"]), "error": "empty file"}
    assert f"classify: {photos['empty.png']}: empty file" in result.stderr
    assert not (tmp_path / "state" / "library.sqlite3").exists()  # read-only: no cache written


def test_on_a_flat_analysed_library_json_lists_what_the_daemon_would_play(
    photos: dict[str, Path], tmp_path: Path
) -> None:
    """No category folders, every track placed (the demo's library): the tracks are those the
    daemon's director starts for the mood and at each natural track end, near the mood's point."""
    import random

    from moodpi.events import TrackEnded, TrackInfo
    from moodpi.music.analysis import analyser
    from moodpi.music.director import MusicDirector
    from moodpi.music.library.library import library_from_config
    from moodpi.music.policy import EMOTION_POINTS, NEAREST
    from musicgen import generate_flat_library

    root = tmp_path / "music-flat"
    generate_flat_library(root, seconds=2.0, seed=0)
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "{root}"\n')
    config = config_mod.load(config_file)
    library = library_from_config(config)
    assert library.scan().categories == {}
    assert analyser.run(library.cache_path).analysed == len(list(root.iterdir()))  # type: ignore[arg-type]

    command = [sys.executable, "-m", "moodpi", "classify", "--config", str(config_file), "--json"]
    result = subprocess.run(
        [*command, str(photos["two.png"])],
        capture_output=True, text=True, env=child_env(), timeout=seconds(60),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    music = json.loads(result.stdout)["music"]
    assert music["emotion"] == "happy" and music["categories"] == ["happy"]
    listed = [Path(t["path"]) for t in music["tracks"]]
    assert len(listed) == 5 and all(t["category"] == "happy" for t in music["tracks"])

    library.load()  # the daemon: its director, told of the mood, then of each natural end
    director = MusicDirector(config.music, library, rng=random.Random(0))
    plays = director.on_mood(MoodChange("happy", 0.9, 0.0), 0.0)
    daemon: list[Path] = []
    for t in range(5):
        track = plays[0].track  # type: ignore[union-attr]
        daemon.append(track.path)
        info = TrackInfo(str(track.path), track.category, track.title, "", 2.0, audio=True)
        plays = director.on_player_event(TrackEnded(info, "finished", 2.0), float(t + 1))
    assert listed == daemon
    point = EMOTION_POINTS["happy"]
    by_distance = sorted(
        library.placed_tracks(),
        key=lambda t: math.dist((t.valence, t.arousal), point),  # type: ignore[arg-type]
    )
    assert listed[0] in {t.path for t in by_distance[:NEAREST]}


def test_a_missing_model_exits_78_like_the_daemon(photos: dict[str, Path], tmp_path: Path) -> None:
    from moodpi.cli.main import main

    config = tmp_path / "config.toml"
    config.write_text(f'[emotion]\nmodel = "{tmp_path / "none.tflite"}"\n')
    assert main(["classify", "--config", str(config), str(photos["two.png"])]) == 78


def test_the_largest_first_order_does_not_depend_on_the_detector(perception: StillCamera) -> None:
    from moodpi.cli.classify import image_document
    from moodpi.types import Face, Frame, Observation, Prediction

    probs = np.full(7, 1 / 7, np.float32)
    small, big = Prediction(probs, Face(0, 0, 20, 20, 0.9)), Prediction(probs, Face(0, 0, 90, 90))
    frame = Frame(np.zeros((48, 64), np.uint8), 0.0, 0)
    doc = image_document(
        "x.png", frame, Observation(0.0, (small, big), faces=(small.face, big.face)), None
    )
    assert [f["box"][2] for f in doc["faces"]] == [90, 20]
    assert msgspec.json.decode(json.dumps(doc))["width"] == 64
