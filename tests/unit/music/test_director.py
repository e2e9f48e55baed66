"""The music director: tables of (time, input) → expected player actions. No clock, no sleeps."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from moodpi import config as config_mod
from moodpi.events import Recovered, TrackEnded, TrackInfo, TrackSkipped, TrackStarted
from moodpi.music.actions import Action, Pause, Play, Resume
from moodpi.music.director import MusicDirector
from moodpi.music.library.library import Library
from moodpi.music.track import Track
from moodpi.types import MoodChange

CATEGORIES = ("sad", "happy", "calming", "upbeat", "relaxing", "angry", "ambient", "neutral")


def _library(*empty: str) -> Library:
    tracks = [
        Track(Path(f"/music/{c}/{c}_{i}.ogg"), c, 120.0, f"{c} {i}")
        for c in CATEGORIES
        if c not in empty
        for i in range(3)
    ]
    return Library.from_tracks(tracks)


def _director(library: Library | None = None, **music: Any) -> MusicDirector:
    settings = {"fade_ms": 2000, "pause_after_absent_s": 30.0, **music}
    config = config_mod.from_dict({"music": settings})
    return MusicDirector(config.music, library or _library(), rng=random.Random(0))


# Inputs: ("mood", emotion) | ("presence", bool) | ("tick",) or ("tick", pending): time passes
# while the tracker is about to publish `pending` | ("end",) the current track ends naturally |
# ("skip",) the user skips it | ("policy", name). Expected actions, short: "play sad 2000/0"
# (category, fade-in ms / crossfade ms), "pause 2000", "resume 2000", or nothing.
Step = tuple[float, tuple[Any, ...], list[str]]


def _feed(director: MusicDirector, t: float, event: tuple[Any, ...]) -> list[Action]:
    kind = event[0]
    if kind == "mood":
        return director.on_mood(MoodChange(event[1], 0.9, t), t)
    if kind == "presence":
        return director.on_presence(event[1], t)
    if kind == "tick":
        return director.tick(t, *event[1:])
    if kind == "end":
        assert director.current is not None
        return director.on_track_ended(t, director.current.path)
    if kind == "skip":
        assert director.current is not None
        return director.on_player_event(_skipped(str(director.current.path), "user"), t)
    if kind == "policy":
        return director.set_policy(event[1])
    raise AssertionError(kind)


def _short(action: Action) -> str:
    if isinstance(action, Play):
        return f"play {action.track.category} {action.fade_in_ms}/{action.crossfade_ms}"
    if isinstance(action, Pause):
        return f"pause {action.fade_ms}"
    if isinstance(action, Resume):
        return f"resume {action.fade_ms}"
    return repr(action)


def _run(director: MusicDirector, steps: list[Step]) -> None:
    for t, event, expected in steps:
        got = [_short(a) for a in _feed(director, t, event)]
        assert got == expected, f"at t={t} after {event}"


FADE: list[Step] = [
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),  # first music fades in
    (5.0, ("mood", "happy"), ["play happy 1000/1000"]),  # across within fade_ms
    (9.0, ("end",), ["play happy 0/0"]),  # next track of the same mood
    (12.0, ("mood", "happy"), []),  # already playing the right music
]

FINISH: list[Step] = [
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (5.0, ("mood", "happy"), []),  # the sad track plays on...
    (6.0, ("mood", "angry"), []),
    (9.0, ("end",), ["play angry 0/0"]),  # ...and the latest mood's music follows it
    (11.0, ("end",), ["play angry 0/0"]),
]

ABSENCE: list[Step] = [
    (0.0, ("mood", "happy"), ["play happy 2000/0"]),
    (10.0, ("presence", False), []),
    (39.9, ("tick",), []),
    (40.0, ("tick",), ["pause 2000"]),  # pause_after_absent_s after the room emptied
    (50.0, ("tick",), []),  # once
    (60.0, ("presence", True), ["resume 2000"]),
    (61.0, ("presence", False), []),
    (70.0, ("presence", True), []),  # back before the pause: nothing to do
    (95.0, ("tick",), []),
]

MOOD_WHILE_PAUSED: list[Step] = [
    (0.0, ("mood", "happy"), ["play happy 2000/0"]),
    (1.0, ("presence", False), []),
    (31.0, ("tick",), ["pause 2000"]),
    (40.0, ("mood", "sad"), []),  # nobody to play to
    (41.0, ("presence", True), ["play sad 2000/0"]),  # the new mood's music, not the old track
]

SAME_CATEGORY: list[Step] = [
    (0.0, ("mood", "surprise"), ["play happy 2000/0"]),  # surprise → happy in this mirror map
    (5.0, ("mood", "happy"), []),  # same category: the track plays on
    (9.0, ("end",), ["play happy 0/0"]),
]

UPLIFT: list[Step] = [
    (0.0, ("mood", "sad"), ["play calming 2000/0"]),
    (3.0, ("mood", "angry"), ["play relaxing 1000/1000"]),
    (4.0, ("mood", "happy"), ["play upbeat 1000/1000"]),
]

ISO: list[Step] = [  # iso_steps = 3: sad, sad, calming, calming, ...
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (2.0, ("end",), ["play sad 0/0"]),
    (4.0, ("end",), ["play calming 0/0"]),
    (6.0, ("end",), ["play calming 0/0"]),
    (8.0, ("end",), ["play calming 0/0"]),
    (9.0, ("mood", "angry"), ["play angry 1000/1000"]),  # a new mood starts a new plan
    (11.0, ("end",), ["play angry 0/0"]),
    (13.0, ("end",), ["play relaxing 0/0"]),
]

POLICY_SWITCH: list[Step] = [
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (5.0, ("policy", "mirror"), []),  # unchanged
    (6.0, ("policy", "uplift"), ["play calming 1000/1000"]),  # like a mood change
    (7.0, ("policy", "iso"), ["play sad 1000/1000"]),  # iso starts with the mood
    (9.0, ("end",), ["play sad 0/0"]),
    (11.0, ("end",), ["play calming 0/0"]),
]


# The grace period (grace_s = 2): a natural end while a new mood is about to be published.
GRACE_CHANGE_COMES: list[Step] = [  # the demo's own case: sad ends 0.1 s before neutral
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (35.5, ("tick", "neutral"), []),  # the faces turned neutral: the tracker's candidate
    (36.4, ("end",), []),  # not a sad track by the mood that is going...
    (36.4, ("tick", "neutral"), []),
    (36.5, ("mood", "neutral"), ["play neutral 2000/0"]),  # ...the new mood's, fading in
    (36.6, ("tick",), []),  # once
    (48.5, ("end",), ["play neutral 0/0"]),  # nothing pending: at once
]

GRACE_RUNS_OUT: list[Step] = [
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (9.9, ("tick", "happy"), []),
    (10.0, ("end",), []),
    (11.9, ("tick", "happy"), []),
    (12.0, ("tick", "happy"), ["play sad 0/0"]),  # grace_s over: the mood in force picks
    (12.1, ("tick", "happy"), []),
    (12.5, ("mood", "happy"), ["play happy 1000/1000"]),  # and a later change fades as ever
]

GRACE_CANDIDATE_GONE: list[Step] = [
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (9.9, ("tick", "happy"), []),
    (10.0, ("end",), []),
    (10.3, ("tick",), ["play sad 0/0"]),  # the faces changed their mind: no more waiting
]

GRACE_AFTER_A_CHANGE: list[Step] = [  # finish: the change replans, the next end follows it
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (9.9, ("tick", "neutral"), []),
    (10.0, ("mood", "neutral"), []),  # the sad track plays to its end...
    (10.1, ("tick",), []),
    (10.2, ("end",), ["play neutral 0/0"]),  # ...0.2 s later: by the new mood, at once
]

GRACE_NOT_FOR_SKIPS: list[Step] = [
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (4.0, ("tick", "happy"), []),
    (4.1, ("skip",), ["play sad 0/0"]),  # the user asked for another track now
    (4.2, ("tick", "sad"), []),  # the mood in force is not a change
    (9.0, ("end",), ["play sad 0/0"]),
]

GRACE_OFF: list[Step] = [
    (0.0, ("mood", "sad"), ["play sad 2000/0"]),
    (9.9, ("tick", "happy"), []),
    (10.0, ("end",), ["play sad 0/0"]),  # grace_s = 0: as before
]


@pytest.mark.parametrize(
    ("steps", "music"),
    [
        (GRACE_CHANGE_COMES, {}),
        (GRACE_RUNS_OUT, {}),
        (GRACE_CANDIDATE_GONE, {}),
        (GRACE_AFTER_A_CHANGE, {"on_change": "finish"}),
        (GRACE_NOT_FOR_SKIPS, {}),
        (GRACE_OFF, {"grace_s": 0.0}),
    ],
    ids=["change-comes", "runs-out", "candidate-gone", "after-change", "skip", "off"],
)
def test_grace_period(steps: list[Step], music: dict[str, Any]) -> None:
    _run(_director(**{"grace_s": 2.0, **music}), steps)


@pytest.mark.parametrize(
    ("steps", "music"),
    [
        (FADE, {}),
        (FINISH, {"on_change": "finish"}),
        (ABSENCE, {}),
        (MOOD_WHILE_PAUSED, {}),
        (SAME_CATEGORY, {"mirror_map": {"surprise": "happy"}}),
        (UPLIFT, {"policy": "uplift"}),
        (ISO, {"policy": "iso", "iso_steps": 3}),
        (POLICY_SWITCH, {}),
    ],
    ids=["fade", "finish", "absence", "paused", "same-category", "uplift", "iso", "policy"],
)
def test_transitions(steps: list[Step], music: dict[str, Any]) -> None:
    _run(_director(**music), steps)


def test_pause_at_once_when_configured() -> None:
    _run(
        _director(pause_after_absent_s=0.0, fade_ms=500),
        [
            (0.0, ("mood", "sad"), ["play sad 500/0"]),
            (1.0, ("presence", False), ["pause 500"]),
            (2.0, ("presence", True), ["resume 500"]),
        ],
    )


def test_no_music_before_a_mood_and_no_pause_with_nothing_playing() -> None:
    director = _director()
    assert director.on_presence(False, 0.0) == []
    assert director.tick(100.0) == []
    assert director.on_presence(True, 101.0) == []
    assert director.on_track_ended(102.0) == []


def test_stale_track_end_is_ignored() -> None:
    director = _director()
    first = director.on_mood(MoodChange("sad", 0.9, 0.0), 0.0)[0]
    second = director.on_mood(MoodChange("happy", 0.9, 1.0), 1.0)[0]
    assert isinstance(first, Play) and isinstance(second, Play)
    # The player reports the sad track's end after the director moved on: not a reason to advance.
    assert director.on_track_ended(2.0, first.track.path) == []
    assert director.current == second.track
    assert len(director.on_track_ended(3.0, second.track.path)) == 1


def _info(path: str) -> TrackInfo:
    return TrackInfo(path, "sad", "t", "", 10.0, audio=True)


def _ended(path: str, reason: str) -> TrackEnded:
    return TrackEnded(_info(path), reason=reason, played_s=1.0)


def _skipped(path: str, reason: str) -> TrackSkipped:
    return TrackSkipped(_info(path), reason=reason)


def test_player_events() -> None:
    director = _director()
    play = director.on_mood(MoodChange("sad", 0.9, 0.0), 0.0)[0]
    assert isinstance(play, Play)
    path = str(play.track.path)
    replaced = _ended(path, "replaced")
    assert director.on_player_event(replaced, 1.0) == []
    started = TrackStarted(_info(path), fade_in_ms=0)
    assert director.on_player_event(started, 1.0) == []

    broken = _skipped(path, "cannot play: corrupt")
    following = director.on_player_event(broken, 2.0)
    assert [_short(a) for a in following] == ["play sad 0/0"]
    seen = [following[0].track]  # type: ignore[union-attr]
    for t in range(3, 12):
        finished = _ended(str(seen[-1].path), "finished")
        seen.append(director.on_player_event(finished, t)[0].track)  # type: ignore[union-attr]
    assert play.track not in seen  # a file that failed is not tried again
    assert {t.category for t in seen} == {"sad"}

    user_skip = _skipped(str(seen[-1].path), "user")
    assert len(director.on_player_event(user_skip, 20.0)) == 1
    again = [director.on_track_ended(21.0 + i)[0].track for i in range(4)]  # type: ignore[union-attr]
    assert seen[-1] in again  # skipped by choice, not broken: it comes round again


def test_every_track_broken_ends_in_silence_not_a_loop() -> None:
    director = _director(_library(*[c for c in CATEGORIES if c != "sad"]))
    actions = director.on_mood(MoodChange("sad", 0.9, 0.0), 0.0)
    for t in range(10):
        if not actions:
            break
        path = str(actions[0].track.path)  # type: ignore[union-attr]
        broken = _skipped(path, "cannot play")
        actions = director.on_player_event(broken, t)
    assert actions == [] and t == 3


def test_empty_category_falls_back() -> None:
    director = _director(_library("calming"), policy="uplift")
    actions = director.on_mood(MoodChange("sad", 0.9, 0.0), 0.0)
    assert [_short(a) for a in actions] == ["play ambient 2000/0"]


def test_empty_library_is_silence() -> None:
    director = _director(Library.from_tracks([]))
    assert director.on_mood(MoodChange("sad", 0.9, 0.0), 0.0) == []
    assert director.on_presence(False, 1.0) == []
    assert director.tick(100.0) == []


def test_set_policy_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        _director().set_policy("loud")


def test_a_flat_library_follows_the_mood_on_the_valence_arousal_plane() -> None:
    regions = {"low": (-0.7, -0.5), "high": (0.8, 0.6), "tense": (-0.6, 0.8), "calm": (0.5, -0.7)}
    tracks = [
        Track(
            Path(f"/music/{name}_{i}.ogg"),
            "",
            120.0,
            f"{name} {i}",
            valence=v,
            arousal=a,
            confidence=0.7,
        )
        for name, (v, a) in regions.items()
        for i in range(3)
    ]
    director = _director(Library.from_tracks(tracks))
    plays = director.on_mood(MoodChange("sad", 0.9, 0.0), 0.0)
    assert isinstance(plays[0], Play) and plays[0].track.title.startswith("low")
    assert plays[0].track.category == "sad"
    plays = director.on_mood(MoodChange("happy", 0.9, 5.0), 5.0)
    assert isinstance(plays[0], Play) and plays[0].track.title.startswith("high")
    plays = director.on_mood(MoodChange("angry", 0.9, 9.0), 9.0)
    assert isinstance(plays[0], Play) and plays[0].track.title.startswith("tense")
    assert director.set_policy("uplift")[0].track.title.startswith("calm")  # type: ignore[attr-defined]


def test_music_starts_when_the_library_comes_back() -> None:
    """A disk mounted after the mood came: the mood's music starts then, not at its next change."""
    library = Library.from_tracks([])
    director = _director(library)
    assert director.on_mood(MoodChange("sad", 0.9, 0.0), 0.0) == []  # nothing to play yet
    library._set_tracks(_library().all_tracks())  # the watcher's rescan found the music
    back = Recovered("music", "24 tracks to play")
    assert [_short(a) for a in director.on_player_event(back, 30.0)] == ["play sad 2000/0"]
    assert director.on_player_event(back, 31.0) == []  # playing already
    assert director.on_player_event(Recovered("audio", "audio device open"), 32.0) == []
