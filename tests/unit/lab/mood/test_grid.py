"""`moodpi bench --mood-grid`: recorded observations replayed through the tracker, ranked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from moodpi.config import MoodConfig
from moodpi.lab.mood import grid as moodgrid
from moodpi.lab.mood.bench import bench_replay
from moodpi.lab.mood.score import score
from moodpi.types import Face, Observation, Prediction
from tests.support.probs import onehot

FPS = 10.0


def steady_recording(*segments: tuple[str, float]) -> moodgrid.Recording:
    """A face read right on every frame, segment after segment (emotion, seconds)."""
    observations, truth_segments, t = [], [], 0.0
    for emotion, seconds in segments:
        start = t
        for _ in range(round(seconds * FPS)):
            face = Face(0, 0, 80, 80)
            observations.append(Observation(t, (Prediction(onehot(emotion), face),), (face,)))
            t = round(t + 1 / FPS, 6)
        truth_segments.append({"emotion": emotion, "start_s": start, "end_s": t})
    truth = {"fps": FPS, "segments": truth_segments}
    return moodgrid.Recording("synthetic", truth, tuple(observations))


def test_track_writes_the_events_the_scorer_reads() -> None:
    rec = steady_recording(("happy", 6), ("sad", 6))
    events = moodgrid.track(rec, MoodConfig())
    assert [(e["type"], e.get("emotion", e.get("present"))) for e in events] == [
        ("presence", True),
        ("mood", "happy"),
        ("mood", "sad"),
    ]
    assert [e["seq"] for e in events] == [0, 1, 2]
    result = score(events, rec.truth)
    assert (result["agreement"], result["flicker"], result["missed_changes"]) == (1.0, 1.0, 0)


def test_a_setting_that_misses_a_target_ranks_last() -> None:
    """An interval longer than the replay keeps the first mood: agreement 0.5, below target."""
    rec = steady_recording(("happy", 6), ("sad", 6), ("angry", 6), ("surprise", 6))
    rows = moodgrid.search([rec], MoodConfig(), {"min_interval_s": (1000.0, 1.0)})
    assert [row["settings"]["min_interval_s"] for row in rows] == [1.0, 1000.0]
    assert rows[0]["utility"] is not None and all(rows[0]["pass"].values())
    assert rows[1]["utility"] is None and rows[1]["pass"]["agreement"] is False
    assert rows[1]["agreement"] == 0.25


def test_utility_weighs_agreement_speed_and_calm() -> None:
    result: dict[str, Any] = {
        "flicker": 1.2,
        "agreement": 0.8,
        "within_2s": 0.5,
        "pass": {"flicker": True, "agreement": True, "median_delay_s": True},
    }
    assert moodgrid.utility(result) == pytest.approx(0.8 + 0.5 * 0.5 - 0.5 * 0.2)
    result["pass"]["median_delay_s"] = False
    assert moodgrid.utility(result) is None


def test_the_grid_is_every_combination() -> None:
    grid = {"threshold": (0.3, 0.4), "min_dwell_s": (0.0, 0.5, 1.0)}
    combos = list(moodgrid.settings(grid))
    assert len(combos) == 6 and {"threshold": 0.4, "min_dwell_s": 1.0} in combos


def test_cli_refuses_a_replay_without_truth(tmp_path: Path) -> None:
    args = argparse.Namespace(mood_grid=[str(tmp_path)], held_out=None, json=True, config=None)
    assert moodgrid.cli_mood_grid(args) == moodgrid.EX_NOINPUT


@pytest.mark.slow
def test_recorded_replay_scores_as_the_daemon_does(
    e2e_replay: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The real pipeline recorded once and replayed through the tracker gives the daemon's
    own events: the grid scores what `moodpi bench --mood` would."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    daemon = bench_replay(e2e_replay, None)
    assert isinstance(daemon, dict)

    monkeypatch.setattr(moodgrid, "GRID", {"min_dwell_s": (0.2, 30.0)})
    args = argparse.Namespace(
        mood_grid=[str(e2e_replay)], held_out=[str(e2e_replay)], json=True, config=None
    )
    assert moodgrid.cli_mood_grid(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == 2 * daemon["frames"] and out["settings_scored"] == 2
    current = out["compared"]["current"]
    for key in ("flicker", "agreement", "median_delay_s", "missed_changes"):
        assert current["tune"][key] == daemon[key] == current["held_out"][key]
    # 30 s of dwell in a 16 s replay publishes nothing: it misses and ranks last.
    assert out["top"][-1]["settings"] == {"min_dwell_s": 30.0}
    assert out["top"][-1]["utility"] is None


def test_paired_difference_tells_a_real_gain_from_none() -> None:
    recs = [
        steady_recording(("happy", 6), ("sad", 6), ("angry", 4 + k), ("surprise", 6))
        for k in range(6)
    ]
    quick = moodgrid.per_replay(recs, MoodConfig(min_interval_s=1.0))
    stuck = moodgrid.per_replay(recs, MoodConfig(min_interval_s=1000.0))
    gain = moodgrid.paired_difference(quick, stuck, resamples=200)
    assert gain["agreement"]["diff"] == 0.75  # 1.0 against 0.25 on every replay
    assert 0 < gain["utility"]["low"] <= gain["utility"]["diff"] <= gain["utility"]["high"]
    same = moodgrid.paired_difference(quick, quick, resamples=50)
    assert all(d == {"diff": 0.0, "low": 0.0, "high": 0.0} for d in same.values())
