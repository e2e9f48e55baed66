"""MoodTracker: tables of (t, probabilities/faces) → changes, and hypothesis properties."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodpi.config import MoodConfig
from moodpi.mood import MoodTracker
from moodpi.types import EMOTIONS, Face, MoodChange, Observation, Prediction, PresenceChange
from tests.support.probs import mix, onehot

N = len(EMOTIONS)
BIG = Face(0, 0, 100, 100)


def obs(t: float, *preds: tuple[np.ndarray, Face]) -> Observation:
    return Observation(t=t, predictions=tuple(Prediction(p, f) for p, f in preds))


def feed(
    tracker: MoodTracker, observations: Iterable[Observation]
) -> list[MoodChange | PresenceChange]:
    out: list[MoodChange | PresenceChange] = []
    for o in observations:
        out.extend(tracker.update(o))
    return out


def frames(start_s: float, end_s: float, fps: float, probs: np.ndarray | None) -> list[Observation]:
    """Observations at start_s, start_s + 1/fps, ... before end_s; None: no face."""
    n0, n1 = round(start_s * fps), round(end_s * fps)
    return [
        obs(i / fps, (probs, BIG)) if probs is not None else obs(i / fps) for i in range(n0, n1)
    ]


def summary(changes: Sequence[MoodChange | PresenceChange]) -> list[tuple[str, float]]:
    """(what, t) pairs, t rounded to the millisecond: 'happy', 'present', 'absent'."""

    def name(c: MoodChange | PresenceChange) -> str:
        if isinstance(c, MoodChange):
            return c.emotion
        return "present" if c.present else "absent"

    return [(name(c), round(c.t, 3)) for c in changes]


# Round numbers for hand-checked tables, independent of the tuned defaults.
DEFAULT = MoodConfig(
    smoothing_s=1.0,
    threshold=0.45,
    switch_margin=0.0,
    min_dwell_s=1.0,
    min_interval_s=3.0,
    absent_after_s=5.0,
)


def tweak(**changes: Any) -> MoodConfig:
    return msgspec.structs.replace(DEFAULT, **changes)


# --------------------------------------------------------------------------------------------
# Tables


TABLES: list[tuple[str, MoodConfig, list[Observation], list[tuple[str, float]]]] = [
    (
        "constant happy: presence at once, mood after the dwell",
        DEFAULT,
        frames(0, 10, 10, onehot("happy")),
        [("present", 0.0), ("happy", 1.0)],
    ),
    (
        "below the threshold: presence but no mood",
        DEFAULT,
        frames(0, 10, 10, onehot("sad", 0.4)),
        [("present", 0.0)],
    ),
    (
        "a half-second blip of anger inside happiness changes nothing",
        DEFAULT,
        frames(0, 4, 10, onehot("happy"))
        + frames(4, 4.5, 10, onehot("angry", 1.0))
        + frames(4.5, 10, 10, onehot("happy")),
        [("present", 0.0), ("happy", 1.0)],
    ),
    (
        # The first sad frame (t=5.0) carries a full frame of weight: sad overtakes happy ln 2 s
        # after 4.9, i.e. at the 5.6 frame, and is published one dwell later.
        "a clean switch: sad leads after ln 2 s of smoothing, then dwells 1 s",
        DEFAULT,
        frames(0, 5, 10, onehot("happy")) + frames(5, 12, 10, onehot("sad")),
        [("present", 0.0), ("happy", 1.0), ("sad", 6.6)],
    ),
    (
        "looking away for 3 s keeps presence and mood; no-face time does not age the state",
        DEFAULT,
        frames(0, 3, 10, onehot("happy"))
        + frames(3, 6, 10, None)
        + frames(6, 9, 10, onehot("happy")),
        [("present", 0.0), ("happy", 1.0)],
    ),
    (
        "the dwell counts face time only: 1 s before a 2 s gap + 1 s after it",
        tweak(smoothing_s=0.0, min_dwell_s=2.0),
        frames(0, 1, 10, onehot("happy"))
        + frames(1, 3, 10, None)
        + frames(3, 5, 10, onehot("happy")),
        [("present", 0.0), ("happy", 4.0)],
    ),
    (
        "nobody for absent_after_s turns presence off; the next person starts fresh",
        DEFAULT,
        frames(0, 3, 10, onehot("happy"))
        + frames(3, 9, 10, None)
        + frames(9, 12, 10, onehot("happy")),
        [("present", 0.0), ("happy", 1.0), ("absent", 7.9), ("present", 9.0), ("happy", 10.0)],
    ),
    (
        "min_interval_s holds a new mood back, then lets it through",
        tweak(smoothing_s=0.0, min_dwell_s=0.0, min_interval_s=3.0),
        frames(0, 1, 10, onehot("happy")) + frames(1, 6, 10, onehot("sad")),
        [("present", 0.0), ("happy", 0.0), ("sad", 3.0)],
    ),
    (
        "a candidate that stops leading before its dwell is forgotten",
        tweak(smoothing_s=0.0, min_dwell_s=1.0, min_interval_s=0.0),
        frames(0, 2, 10, onehot("happy"))
        + frames(2, 2.8, 10, onehot("sad"))
        + frames(2.8, 3.4, 10, onehot("happy"))
        + frames(3.4, 4.3, 10, onehot("sad")),
        [("present", 0.0), ("happy", 1.0)],
    ),
    (
        "switch margin 0.3: sad at 0.5 against happy at 0.3 leads by too little",
        tweak(switch_margin=0.3),
        frames(0, 5, 10, onehot("happy")) + frames(5, 15, 10, mix(sad=0.5, happy=0.3)),
        [("present", 0.0), ("happy", 1.0)],
    ),
    (
        # sad - happy = 0.2 - 1.083·exp(-x) reaches 0.15 at x = 3.08 s after 4.9: candidate at
        # the 8.0 frame, published one dwell later.
        "switch margin 0.15: the same input switches once sad leads by 0.15",
        tweak(switch_margin=0.15),
        frames(0, 5, 10, onehot("happy")) + frames(5, 15, 10, mix(sad=0.5, happy=0.3)),
        [("present", 0.0), ("happy", 1.0), ("sad", 9.0)],
    ),
    (
        "a mood whose smoothed probability falls below the threshold stays in force",
        DEFAULT,
        frames(0, 3, 10, onehot("happy")) + frames(3, 10, 10, np.full(N, 1.0 / N)),
        [("present", 0.0), ("happy", 1.0)],
    ),
]


@pytest.mark.parametrize(
    ("config", "observations", "expected"), [t[1:] for t in TABLES], ids=[t[0] for t in TABLES]
)
def test_table(
    config: MoodConfig, observations: list[Observation], expected: list[tuple[str, float]]
) -> None:
    assert summary(feed(MoodTracker(config), observations)) == expected


def test_several_faces_largest_or_group() -> None:
    happy_big = (onehot("happy", 1.0), Face(0, 0, 20, 10))  # area 200
    sad_small = (onehot("sad", 1.0), Face(50, 0, 10, 15))  # area 150, twice: 300 in all
    sad_other = (onehot("sad", 1.0), Face(90, 0, 15, 10))
    seq = [obs(i / 10, happy_big, sad_small, sad_other) for i in range(30)]
    largest = feed(MoodTracker(tweak(smoothing_s=0.0, min_dwell_s=0.5)), seq)
    group = feed(MoodTracker(tweak(smoothing_s=0.0, min_dwell_s=0.5, faces="group")), seq)
    assert summary(largest)[1:] == [("happy", 0.5)]
    assert summary(group)[1:] == [("sad", 0.5)]
    assert isinstance(group[1], MoodChange)
    assert group[1].confidence == pytest.approx(300 / 500)


def test_invalid_probabilities_do_not_vote() -> None:
    tracker = MoodTracker(tweak(smoothing_s=0.5, min_dwell_s=0.5))
    feed(tracker, frames(0, 2, 10, onehot("happy")))
    before = tracker.smoothed
    bad = [np.full(N, np.nan), np.ones(3) / 3, -onehot("sad")]
    assert feed(tracker, [obs(2.0 + i / 10, (b, BIG)) for i, b in enumerate(bad)]) == []
    assert np.array_equal(tracker.smoothed, before)
    assert tracker.current is not None and tracker.current.emotion == "happy"


def test_properties_expose_state_without_aliasing() -> None:
    tracker = MoodTracker(DEFAULT)
    assert (tracker.current, tracker.present, tracker.smoothed) == (None, False, None)
    feed(tracker, frames(0, 2, 10, onehot("surprise")))
    assert tracker.present
    assert tracker.current is not None and tracker.current.emotion == "surprise"
    assert len(tracker.current.probs) == N
    smoothed = tracker.smoothed
    assert smoothed is not None and smoothed.sum() == pytest.approx(1.0)
    smoothed[:] = 0
    assert tracker.smoothed is not None and tracker.smoothed.sum() == pytest.approx(1.0)


def test_time_going_backwards_is_harmless() -> None:
    tracker = MoodTracker(DEFAULT)
    changes = feed(tracker, [*frames(0, 2, 10, onehot("happy")), obs(1.0, (onehot("sad"), BIG))])
    assert summary(changes) == [("present", 0.0), ("happy", 1.0)]


# --------------------------------------------------------------------------------------------
# Properties

configs = st.builds(
    MoodConfig,
    smoothing_s=st.floats(0.0, 3.0),
    threshold=st.floats(0.2, 0.9),
    switch_margin=st.floats(0.0, 0.25),
    min_dwell_s=st.floats(0.0, 3.0),
    min_interval_s=st.floats(0.0, 6.0),
    absent_after_s=st.floats(0.5, 6.0),
    faces=st.sampled_from(["largest", "group"]),
)
any_probs = (
    st.lists(st.floats(0.0, 1.0), min_size=N, max_size=N)
    .filter(lambda v: sum(v) > 1e-3)
    .map(lambda v: np.array(v) / sum(v))
)


@st.composite
def clean_probs(draw: st.DrawFn, emotion: int, threshold: float) -> np.ndarray:
    """A clear leader: p ≥ max(threshold + 0.05, 0.55) on `emotion`, every other class ≤ 0.225.

    With every minor class below half of a leader, no third class can lead while the smoothed
    state moves from one clean input to another: one switch, one change.
    """
    p = draw(st.floats(max(threshold + 0.05, 0.55), 1.0))
    weights = np.array(draw(st.lists(st.floats(0.2, 1.0), min_size=N - 1, max_size=N - 1)))
    rest = (1.0 - p) * weights / weights.sum()
    return np.insert(rest, emotion, p)


@given(
    config=configs,
    steps=st.lists(
        st.tuples(st.floats(0.01, 1.5), st.one_of(st.none(), any_probs), st.integers(1, 3)),
        max_size=120,
    ),
)
@settings(max_examples=150, deadline=None)
def test_changes_never_closer_than_min_interval(config: MoodConfig, steps: list) -> None:
    tracker, t = MoodTracker(config), 0.0
    changes: list[MoodChange | PresenceChange] = []
    for dt, probs, n_faces in steps:
        t += dt
        preds = (
            []
            if probs is None
            else [(np.roll(probs, k), Face(k, 0, 10 + k, 10)) for k in range(n_faces)]
        )
        changes.extend(tracker.update(obs(t, *preds)))
    moods = [c.t for c in changes if isinstance(c, MoodChange)]
    assert all(b - a >= config.min_interval_s - 1e-6 for a, b in itertools.pairwise(moods))
    presence = [c.present for c in changes if isinstance(c, PresenceChange)]
    assert presence == [i % 2 == 0 for i in range(len(presence))]  # on, off, on, ...


@given(
    config=configs,
    probs=any_probs,
    fps=st.sampled_from([5.0, 10.0, 15.0, 30.0]),
    gaps=st.lists(st.tuples(st.floats(0.0, 4.0), st.floats(0.0, 0.99)), max_size=5),
)
@settings(max_examples=150, deadline=None)
def test_constant_input_changes_at_most_once(
    config: MoodConfig, probs: np.ndarray, fps: float, gaps: list[tuple[float, float]]
) -> None:
    """Constant input, with no-face gaps shorter than absent_after_s: at most one mood change."""
    first_run_s = config.min_dwell_s + 3 / fps
    seq, t = frames(0, first_run_s, fps, probs), first_run_s
    for face_s_drawn, gap_frac in gaps:
        face_s = max(face_s_drawn, 1.5 / fps)  # at least one face frame between two gaps
        seq += frames(t, t + face_s, fps, probs)
        t += face_s
        gap_s = max(0.0, gap_frac * config.absent_after_s - 1 / fps)  # frames round up to 1/fps
        seq += frames(t, t + gap_s, fps, None)
        t += gap_s
    changes = feed(MoodTracker(config), [o for o in seq if o.t >= 0])
    moods = [c for c in changes if isinstance(c, MoodChange)]
    presence = [c for c in changes if isinstance(c, PresenceChange)]
    assert len(presence) == 1
    assert len(moods) <= 1
    if max(probs) >= config.threshold + 1e-9:
        assert len(moods) == 1 and moods[0].emotion == EMOTIONS[int(np.argmax(probs))]


def crossing_time_s(a: np.ndarray, b: np.ndarray, config: MoodConfig) -> float:
    """Time after a switch from constant input `a` to `b` until b's leader qualifies.

    It must lead every class, pass the threshold, and beat a's leader by the switch margin.
    The smoothed state is s(x) = b + (a - b)·exp(-x/τ): every pairwise difference moves
    monotonically from (a_k - a_j) to (b_k - b_j), so each condition holds from its own
    crossing time on.
    """
    tau, k, current = config.smoothing_s, int(np.argmax(b)), int(np.argmax(a))
    if tau == 0:
        return 0.0
    times = [0.0]
    if a[k] < config.threshold:
        times.append(tau * math.log((b[k] - a[k]) / (b[k] - config.threshold)))
    for j in range(N):
        need = config.switch_margin if j == current else 0.0
        d, e = b[k] - b[j], a[k] - a[j]
        if j != k and e < need:
            times.append(tau * math.log((d - e) / (d - need)))
    return max(times)


@given(config=configs, fps=st.sampled_from([5.0, 10.0, 30.0]), data=st.data())
@settings(max_examples=150, deadline=None)
def test_clean_switch_gives_one_change_within_bound(
    config: MoodConfig, fps: float, data: st.DataObject
) -> None:
    ia, ib = data.draw(st.sampled_from([(i, j) for i in range(N) for j in range(N) if i != j]))
    a = data.draw(clean_probs(ia, config.threshold))
    b = data.draw(clean_probs(ib, config.threshold))
    frame_s = 1 / fps
    # The switch comes after the first change and after min_interval_s, so only smoothing and
    # dwell stand between it and the second change.
    switch_s = math.ceil((config.min_dwell_s + config.min_interval_s + 2 * frame_s) * fps) / fps
    cross_s = crossing_time_s(a, b, config)
    # One frame for the switch to be seen, one for the dwell to be sampled.
    bound_s = cross_s + config.min_dwell_s + 2 * frame_s
    end_s = switch_s + bound_s + 5.0
    changes = feed(
        MoodTracker(config), frames(0, switch_s, fps, a) + frames(switch_s, end_s, fps, b)
    )
    moods = [c for c in changes if isinstance(c, MoodChange)]
    assert [m.emotion for m in moods] == [EMOTIONS[ia], EMOTIONS[ib]]
    assert switch_s <= moods[1].t <= switch_s + bound_s + 1e-6
    # Not absurdly early either: the crossing needs at least the smoothing's share of the time.
    assert (
        moods[1].t >= switch_s + max(0.0, cross_s - frame_s) + config.min_dwell_s - frame_s - 1e-6
    )


@given(
    smoothing_s=st.floats(0.0, 2.0),
    threshold=st.floats(0.2, 0.6),
    switch_margin=st.floats(0.0, 0.25),
    dwell_ticks=st.integers(0, 10),  # in 0.2 s steps: the coarse frame grid
    interval_ticks=st.integers(0, 15),
    segments=st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, 20)), min_size=1, max_size=6),
    data=st.data(),
)
@pytest.mark.slow
@settings(max_examples=100, deadline=None)
def test_5_and_30_fps_agree_within_a_frame(
    smoothing_s: float,
    threshold: float,
    switch_margin: float,
    dwell_ticks: int,
    interval_ticks: int,
    segments: list,
    data: st.DataObject,
) -> None:
    """The same piecewise-constant input at 5 and 30 fps publishes the same moods, ≤ 0.2 s apart.

    Segment bounds, dwell and interval sit on the 5 fps grid, and each segment is long enough
    to settle, so the only differences left are where each rate samples the crossings.
    """
    coarse_s = 0.2
    config = MoodConfig(
        smoothing_s=smoothing_s,
        threshold=threshold,
        switch_margin=switch_margin,
        min_dwell_s=dwell_ticks * coarse_s,
        min_interval_s=interval_ticks * coarse_s,
    )
    settle_s = 6 * smoothing_s + config.min_dwell_s + config.min_interval_s + 1.0
    plan: list[tuple[np.ndarray, int]] = []  # (probs, end in 1/30 s ticks)
    end_ticks, previous = 0, -1
    for emotion, extra in segments:
        if emotion == previous:
            continue
        end_ticks += 6 * (math.ceil(settle_s / coarse_s) + extra)
        plan.append((data.draw(clean_probs(emotion, threshold)), end_ticks))
        previous = emotion

    def run(fps: int) -> list[MoodChange]:
        step, seq, k = 30 // fps, [], 0
        for tick in range(0, end_ticks, step):
            while tick >= plan[k][1]:
                k += 1
            seq.append(obs(tick / 30, (plan[k][0], BIG)))
        return [c for c in feed(MoodTracker(config), seq) if isinstance(c, MoodChange)]

    slow, fast = run(5), run(30)
    assert [c.emotion for c in slow] == [c.emotion for c in fast]
    assert len(slow) == len(plan)
    for s, f in zip(slow, fast, strict=True):
        assert abs(s.t - f.t) <= coarse_s + 1e-6


def test_pending_is_the_mood_about_to_be_published() -> None:
    """(t, faces) → pending: the candidate that waits out its dwell or the minimum interval (what
    the music director's grace period listens to); None once published or when it stops leading."""
    tracker = MoodTracker(DEFAULT)
    table: list[tuple[float, str | None, str | None]] = [
        (0.0, "happy", "happy"),  # qualifies at once, dwells 1 s
        (0.5, "happy", "happy"),
        (1.0, "happy", None),  # published
        (1.5, "sad", None),  # smoothing: not leading yet
        (2.5, "sad", "sad"),
        (3.6, "sad", "sad"),  # dwelt 1.1 s, but the minimum interval (3 s after 1.0) holds it
        (4.0, "sad", None),  # published
        (4.5, "happy", None),
        (5.5, "happy", "happy"),
        (5.6, None, "happy"),  # nobody seen for a moment: still about to come
        (10.6, None, None),  # presence off: a clean slate
    ]
    for t, face, expected in table:
        tracker.update(obs(t, (onehot(face), BIG)) if face else obs(t))
        assert tracker.pending == expected, f"at t={t}"
