"""Mood -> music policies: the category maps, iso plans, the picker, and targets on the
valence-arousal plane."""

from __future__ import annotations

import itertools
import logging
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodpi import config as config_mod
from moodpi.music.library.library import Library
from moodpi.music.policy import (
    EMOTION_POINTS,
    RECENT,
    Target,
    TrackPicker,
    iso_plan,
    plan,
    policy_categories,
    targets,
)
from moodpi.music.track import Track
from moodpi.types import EMOTIONS, as_policy

MUSIC = config_mod.Config().music


def test_mirror_and_uplift_maps() -> None:
    uplift = {
        "sad": "calming", "angry": "relaxing", "fear": "comforting", "disgust": "gentle",
        "surprise": "exciting", "happy": "upbeat", "neutral": "ambient",
    }  # fmt: skip
    for emotion in EMOTIONS:
        assert plan("mirror", emotion, MUSIC) == (emotion,)
        assert plan("uplift", emotion, MUSIC) == (uplift[emotion],)


def test_maps_come_from_config() -> None:
    maps = {"mirror_map": {"sad": "blues"}, "uplift_map": {"sad": "sunshine"}, "iso_steps": 1}
    custom = config_mod.from_dict({"music": maps}).music
    assert plan("mirror", "sad", custom) == ("blues",)
    assert plan("iso", "sad", custom) == ("blues", "sunshine")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (1, "MT"),
        (2, "MMT"),
        (3, "MMTT"),
        (4, "MMMTT"),
        (5, "MMMTTT"),
    ],
)
def test_iso_plan_steps(steps: int, expected: str) -> None:
    assert "".join(c[0] for c in iso_plan("M", "T", steps)) == expected


def test_iso_starts_with_the_mood_and_ends_at_the_target() -> None:
    for emotion in EMOTIONS:
        steps = plan("iso", emotion, MUSIC)
        assert steps[0] == MUSIC.mirror_map[emotion]
        assert steps[-1] == MUSIC.uplift_map[emotion]
        assert len(steps) == MUSIC.iso_steps + 1


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match=r"unknown policy 'random' \(one of mirror, uplift, iso\)"):
        as_policy("random")


# -- picking tracks ----------------------------------------------------------------------------


def _tracks(category: str, n: int) -> list[Track]:
    return [Track(Path(f"/m/{category}/{i}.ogg"), category, 60.0, f"{i}") for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 9), rounds=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_no_repeat_until_category_exhausted(n: int, rounds: int, seed: int) -> None:
    library = Library.from_tracks(_tracks("sad", n) + _tracks("happy", 3))
    picker = TrackPicker(library, random.Random(seed))
    picks = [picker.pick("sad") for _ in range(n * rounds)]
    for r in range(rounds):
        bag = picks[r * n : (r + 1) * n]
        assert len({t.path for t in bag}) == n  # every track once per round
    assert all(a != b for a, b in itertools.pairwise(picks)) or n == 1
    assert all(t.category == "sad" for t in picks)


def test_picks_are_reproducible_with_a_seed() -> None:
    library = Library.from_tracks(_tracks("sad", 6))
    a, b = TrackPicker(library, random.Random(7)), TrackPicker(library, random.Random(7))
    picks = [a.pick("sad") for _ in range(12)]
    assert picks == [b.pick("sad") for _ in range(12)]
    other = TrackPicker(library, random.Random(8))
    assert picks != [other.pick("sad") for _ in range(12)]


def test_empty_category_falls_back_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    library = Library.from_tracks(_tracks("neutral", 2) + _tracks("happy", 5))
    picker = TrackPicker(library, random.Random(0))
    with caplog.at_level(logging.WARNING, logger="moodpi.music.policy"):
        picks = [picker.pick("calming") for _ in range(4)]
    assert {t.category for t in picks} == {"neutral"}  # ambient is empty too; neutral next
    assert len([r for r in caplog.records if "calming" in r.getMessage()]) == 1

    only_happy = TrackPicker(Library.from_tracks(_tracks("happy", 5)), random.Random(0))
    assert only_happy.pick("sad").category == "happy"  # else the largest category
    caplog.clear()
    nothing = TrackPicker(Library.from_tracks([]), random.Random(0))
    with caplog.at_level(logging.WARNING, logger="moodpi.music.policy"):
        assert [nothing.pick(e) for e in EMOTIONS] == [None] * len(EMOTIONS)
    assert len(caplog.records) == 1  # an empty library is said once, not once per category


def test_excluded_tracks_are_never_picked_again() -> None:
    tracks = _tracks("sad", 3)
    picker = TrackPicker(Library.from_tracks(tracks + _tracks("ambient", 1)), random.Random(1))
    picker.exclude(tracks[0].path)
    assert tracks[0] not in [picker.pick("sad") for _ in range(10)]
    picker.exclude(tracks[1].path)
    picker.exclude(str(tracks[2].path))
    assert picker.pick("sad").category == "ambient"


# -- the valence-arousal plane -----------------------------------------------------------------


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


def test_unanalysed_uncategorised_music_plays_shuffled_before_another_mood_s_folder(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing placed yet: a happy target with no happy folder plays the user's uncategorised
    music (an artist tree, a flat folder), not the largest category folder (sad)."""
    sad = _tracks("sad", 5)
    loose = [Track(Path(f"/m/Artist/{i}.ogg"), "", 60.0, f"loose {i}") for i in range(3)]
    picker = TrackPicker(Library.from_tracks(sad + loose), random.Random(0))
    with caplog.at_level(logging.WARNING, logger="moodpi.music.policy"):
        picks = [picker.pick_target(Target("happy", 0.8, 0.5)) for _ in range(3)]
    assert sorted(t.title for t in picks if t is not None) == ["loose 0", "loose 1", "loose 2"]
    assert "playing the uncategorised music (shuffled) instead" in caplog.text
    alone = TrackPicker(Library.from_tracks(loose), random.Random(0))
    assert alone.pick_target(Target("sad", -0.7, -0.4)) is not None  # a flat library plays


def test_policy_categories_are_the_maps_and_the_fallbacks() -> None:
    names = policy_categories(MUSIC)
    assert set(MUSIC.mirror_map.values()) | set(MUSIC.uplift_map.values()) <= names
    assert {"ambient", "neutral"} <= names and len(names) == 14
    custom = config_mod.from_dict({"music": {"mirror_map": {"sad": "Blues"}}}).music
    assert "blues" in policy_categories(custom)
