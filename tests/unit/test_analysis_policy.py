"""Policies on the valence-arousal plane, the flat demo library, and issue 18's non-UTF-8 file
name (real files, real SQLite)."""

from __future__ import annotations

import os
import random
from pathlib import Path

from moodpi import config as config_mod
from moodpi.music.library import Library, Track
from moodpi.music.policy import EMOTION_POINTS, RECENT, Target, TrackPicker, targets
from musicgen import FLAT_STYLES, generate_flat_library, write_clip

MUSIC = config_mod.Config().music


# -- the valence-arousal plane: targets, the picker, the flat library -------------------------


def _placed(points: dict[str, tuple[float, float]], category: str = "") -> list[Track]:
    return [
        Track(Path(f"/m/{name}.ogg"), category, 60.0, name, valence=v, arousal=a, confidence=0.8)
        for name, (v, a) in points.items()
    ]


def test_targets_mirror_the_emotion_uplift_the_goal_and_iso_walks_between() -> None:
    assert targets("mirror", "sad", MUSIC) == (Target("sad", *EMOTION_POINTS["sad"]),)
    (uplift,) = targets("uplift", "sad", MUSIC)
    assert uplift.category == "calming" and uplift.valence > 0 > uplift.arousal
    walk = targets("iso", "sad", config_mod.from_dict({"music": {"iso_steps": 4}}).music)
    assert [t.category for t in walk] == ["sad", "sad", "sad", "calming", "calming"]
    assert walk[0].point == EMOTION_POINTS["sad"] and walk[-1].point == uplift.point
    valences = [t.valence for t in walk]
    assert valences == sorted(valences) and len(set(valences)) == 5  # one step at a time


def test_picker_plays_near_the_point_without_repeats() -> None:
    corners = {"sad": (-0.7, -0.5), "happy": (0.8, 0.6), "angry": (-0.6, 0.8), "calm": (0.5, -0.7)}
    points = {f"{name}{i}": (v + 0.02 * i, a) for name, (v, a) in corners.items() for i in range(6)}
    picker = TrackPicker(Library.from_tracks(_placed(points)), random.Random(3))
    sad = [picker.pick_target(Target("sad", -0.7, -0.4)) for _ in range(12)]
    assert all(t is not None and t.title.startswith("sad") for t in sad[:6])
    assert all(t is not None and t.category == "sad" for t in sad)  # labelled with the target
    titles = [t.title for t in sad if t is not None]
    for i in range(len(titles)):  # never one of the last RECENT
        assert titles[i] not in titles[max(0, i - RECENT) : i] or len(points) <= RECENT
    happy = picker.pick_target(Target("happy", 0.8, 0.5))
    assert happy is not None and happy.title.startswith("happy")


def test_a_category_folder_wins_over_the_analysis() -> None:
    placed = _placed({"near": (-0.7, -0.4)})
    chosen = Track(Path("/m/sad/mine.ogg"), "sad", 60.0, "mine")
    picker = TrackPicker(Library.from_tracks([*placed, chosen]), random.Random(0))
    for _ in range(3):
        track = picker.pick_target(Target("sad", -0.7, -0.4))
        assert track is not None and track.title == "mine"
    other = picker.pick_target(Target("calming", 0.4, -0.7))  # no folder: the plane decides
    assert other is not None and other.title == "near" and other.category == "calming"


def test_unanalysed_library_still_plays_by_fallback() -> None:
    library = Library.from_tracks([Track(Path("/m/x.ogg"), "jazz", 60.0, "x")])
    track = TrackPicker(library, random.Random(0)).pick_target(Target("sad", -0.7, -0.4))
    assert track is not None and track.title == "x"


def test_flat_demo_library_has_no_category_folders(tmp_path: Path) -> None:
    paths = generate_flat_library(tmp_path, seconds=0.5)
    assert len(paths) == 2 * len(FLAT_STYLES) and all(p.parent == tmp_path for p in paths)
    library = Library(tmp_path)
    report = library.scan()
    assert report.tracks == len(paths) and library.categories() == {}
    assert len(library.all_tracks()) == len(paths)


def test_a_non_utf8_file_name_does_not_silence_the_library(tmp_path: Path) -> None:
    """Issue 18, defect 2: `caf\\xe9.wav` made the cache save fail and the daemon play nothing."""
    root = tmp_path / "music"
    write_clip(root / "happy" / "ok.wav", "happy", seconds=0.3)
    bad = os.fsdecode(os.fsencode(root / "happy") + b"/caf\xe9.wav")
    write_clip(Path(bad), "happy", seconds=0.3)
    cache = tmp_path / "state" / "library.sqlite3"
    report = Library(root, cache_path=cache).scan()
    assert report.tracks == 2 and report.unreadable == 0
    again = Library(root, cache_path=cache)
    assert again.load() == 2  # the save worked: the cache holds both
    assert Path(bad) in {t.path for t in again.tracks("happy")}
    assert again.scan().read == 0  # and knows them as unchanged
