"""lab/mood/score.py: published moods scored on hand-made event lists; truth files checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from moodpi.lab.mood.score import load_truth, longest_in, pool, score
from tests.support.truth import TRUTH, write_truth


def events(*items: tuple[float, str, Any]) -> list[dict[str, Any]]:
    """(t, 'mood', emotion) or (t, 'presence', present) → daemon-like events with seq."""
    out = []
    for seq, (t, kind, value) in enumerate(items, 1):
        field = "emotion" if kind == "mood" else "present"
        out.append({"type": kind, "seq": seq, "t": t, "at": "2024-05-01T00:00:00Z", field: value})
        if kind == "mood":
            out[-1]["confidence"] = 0.7
    return out


def test_a_perfect_run() -> None:
    run = events(
        (0.0, "presence", True), (1.2, "mood", "happy"), (14.9, "presence", False),
        (16.0, "presence", True), (17.5, "mood", "sad"), (27.0, "mood", "angry"),
        (28.0, "track_started", None),
    )  # fmt: skip
    result = score(run, TRUTH)
    assert result["true_changes"] == 3 and result["published_changes"] == 3
    assert result["flicker"] == 1.0
    assert result["agreement"] == 1.0
    assert result["median_delay_s"] == 1.2 and result["max_delay_s"] == 1.5
    assert result["missed_changes"] == 0
    assert result["empty_with_presence_off"] == 1
    assert result["pass"] == {"flicker": True, "agreement": True, "median_delay_s": True}
    assert result["per_emotion"]["sad"] == {"agreement": 1.0, "agreeing": 1, "segments": 1}


def test_flicker_counts_every_published_change() -> None:
    run = events(
        (1.0, "mood", "happy"), (3.0, "mood", "neutral"), (4.0, "mood", "happy"),  # a wobble
        (17.0, "mood", "sad"), (27.0, "mood", "angry"),
    )  # fmt: skip
    result = score(run, TRUTH)
    assert result["flicker"] == pytest.approx(5 / 3, abs=1e-3)
    assert result["agreement"] == 1.0  # the wobble was over before the second half
    assert not result["pass"]["flicker"]
    assert result["empty_with_presence_off"] == 0


def test_agreement_is_the_longest_mood_of_the_second_half() -> None:
    # sad: second half 21-26; none until 23.6 (2.6 s) beats sad from 23.6 (2.4 s): wrong.
    # angry: second half 30-34; sad until 31 (1 s), angry after (3 s): right, though late.
    run = events(
        (1.0, "mood", "happy"), (14.0, "presence", False), (23.6, "mood", "sad"),
        (31.0, "mood", "angry"),
    )  # fmt: skip
    result = score(run, TRUTH)
    assert result["agreement"] == pytest.approx(2 / 3, abs=1e-3)
    assert result["per_emotion"]["sad"]["agreeing"] == 0
    assert result["confusions"] == {"sad → none": 1}
    assert result["median_delay_s"] == 5.0  # delays 1.0, 7.6, 5.0


def test_missed_change_and_a_mood_already_in_force() -> None:
    # The empty room is never noticed; sad is never published (missed); angry was already
    # published during sad (a misread), so its delay is 0.
    run = events((2.0, "mood", "happy"), (20.0, "mood", "angry"))
    result = score(run, TRUTH)
    assert result["missed_changes"] == 1
    assert result["median_delay_s"] == 1.0  # delays 2.0 and 0.0
    assert result["confusions"] == {"sad → angry": 1}
    assert result["per_emotion"]["angry"]["agreeing"] == 1


def test_no_events_at_all() -> None:
    result = score([], TRUTH)
    assert result["flicker"] == 0.0 and result["agreement"] == 0.0
    assert result["median_delay_s"] is None and result["missed_changes"] == 3
    assert result["pass"] == {"flicker": True, "agreement": False, "median_delay_s": False}


def test_same_emotion_after_an_empty_room_is_a_change_but_not_twice_in_a_row() -> None:
    truth = {
        "segments": [
            {"emotion": "happy", "start_s": 0.0, "end_s": 6.0},
            {"emotion": "happy", "start_s": 6.0, "end_s": 12.0},  # no change: same person mood
            {"emotion": None, "start_s": 12.0, "end_s": 18.0},
            {"emotion": "happy", "start_s": 18.0, "end_s": 24.0},  # back: a change
        ]
    }
    run = events((1.0, "mood", "happy"), (17.0, "presence", False), (19.0, "mood", "happy"))
    result = score(run, truth)
    assert result["true_changes"] == 2 and result["flicker"] == 1.0
    assert result["agreement"] == 1.0 and result["median_delay_s"] == 1.0


def test_pooling_sums_counts_and_takes_the_median_of_all_delays() -> None:
    good = score(
        events(
            (1.2, "mood", "happy"),
            (14.9, "presence", False),
            (17.5, "mood", "sad"),
            (27.0, "mood", "angry"),
        ),
        TRUTH,
    )  # delays 1.2, 1.5, 1.0
    late = score(
        events((4.0, "mood", "happy"), (3.0, "mood", "neutral"), (21.0, "mood", "sad")),
        TRUTH,
    )  # delays 4.0 (happy), 5.0 (sad); angry missed, sad still in force
    pooled = pool([good, late])
    assert pooled["true_changes"] == 6 and pooled["published_changes"] == 3 + 3
    assert pooled["flicker"] == 1.0
    assert sorted(pooled["delays_s"]) == [1.0, 1.2, 1.5, 4.0, 5.0]
    assert pooled["median_delay_s"] == 1.5  # of all five, not the mean of the two medians
    assert pooled["missed_changes"] == 1
    assert pooled["within_2s"] == 0.5  # 3 of 6 true changes; the missed one counts as late
    assert pooled["agreeing_segments"] == good["agreeing_segments"] + late["agreeing_segments"]
    assert pooled["per_emotion"]["angry"] == {"agreement": 0.5, "agreeing": 1, "segments": 2}
    assert pooled["confusions"] == late["confusions"]
    assert pooled["pass"]["median_delay_s"] and pooled["pass"]["flicker"]
    alone = pool([late])
    assert (alone["flicker"], alone["agreement"], alone["median_delay_s"]) == (
        late["flicker"], late["agreement"], late["median_delay_s"]
    )  # fmt: skip


def test_longest_in_counts_the_mood_carried_in() -> None:
    timeline = [(1.0, "happy"), (5.5, "sad"), (9.0, None)]
    assert longest_in(timeline, 5.0, 10.0) == "sad"  # happy 0.5, sad 3.5, none 1.0
    assert longest_in(timeline, 0.0, 2.0) is None  # nothing until 1.0, happy 1.0: tie → first
    assert longest_in(timeline, 2.0, 5.0) == "happy"


@pytest.mark.parametrize(
    "bad",
    [
        {"segments": []},
        {"fps": 0, "segments": TRUTH["segments"]},
        {"fps": 10, "segments": [{"emotion": "bored", "start_s": 0, "end_s": 1}]},
        {"fps": 10, "segments": [{"emotion": "sad", "start_s": 2, "end_s": 1}]},
        {"fps": 10, "segments": [{"emotion": "sad"}]},
    ],
)
def test_load_truth_rejects_bad_files(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match=r"truth\.json"):
        load_truth(write_truth(tmp_path, bad) / "truth.json")
