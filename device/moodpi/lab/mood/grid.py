"""`moodpi bench --mood-grid`: choose the mood tracker's settings on labelled replays.

What the classifier says about a frame does not depend on the tracker's settings, so each
replay goes through the pipeline once (the daemon's replay source, detector and classifier, as
`moodpi run` reads it) and every setting of the grid then replays the recorded observations
through the tracker alone: mood.py is pure and its clock is the frames' own `t`. Each setting is
scored as `moodpi bench --mood` scores the daemon (mood.score, pooled over the replays).

The settings are chosen on one set of replays and checked on another left out of the choice
(`--held-out`): the grid has hundreds of settings, and the best of them on one set is partly
the luck of that set.

Choosing. Only settings that meet all three targets of mood.score.TARGETS on the tuning replays
are ranked, by

    utility = agreement + 0.5 · within_2s − 0.5 · (flicker − 1)

a segment read right is worth 1, a true change published within 2 s half of that, and every
published change beyond one per true change costs as much as a quick answer gains: a calm room
matters as much as a quick one, because each published change may change the music.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from moodpi import config as config_mod
from moodpi.config import Config, MoodConfig
from moodpi.lab.mood.score import TARGETS, load_truth, pool, score
from moodpi.mood import MoodTracker
from moodpi.perception.pipeline import build_perception
from moodpi.perception.sources import SourceEnded, open_source
from moodpi.types import MoodChange, Observation, PresenceChange

log = logging.getLogger(__name__)

# The grid around the defaults; `min_interval_s` stays at 2 s or more so music is not churned.
GRID: dict[str, tuple[float, ...]] = {
    "smoothing_s": (0.5, 0.75, 1.0, 1.5, 2.0),
    "threshold": (0.3, 0.35, 0.4, 0.5),
    "switch_margin": (0.2, 0.3, 0.4, 0.5, 0.6),
    "min_dwell_s": (0.0, 0.2, 0.5, 1.0, 1.5),
    "min_interval_s": (2.0, 3.0, 4.0),
}
QUICK_WEIGHT, FLICKER_WEIGHT = 0.5, 0.5
EX_NOINPUT = 66


@dataclass(frozen=True)
class Recording:
    """One replay as the tracker sees it: its truth and every frame's observation, in order."""

    replay: str
    truth: dict[str, Any]
    observations: tuple[Observation, ...]


def record(replay: Path, config: Config) -> Recording:
    """Run the pipeline once over a replay's frames, as the daemon does with `--source replay:`."""
    truth = load_truth(replay / "truth.json")
    camera = config_mod.from_dict(
        {
            "camera": {
                **config_mod.as_dict(config.camera),
                "source": f"replay:{(replay / 'frames').resolve()}",
                "fps": truth["fps"],
                "loop": False,
                "realtime": False,
            }
        }
    ).camera
    perception = build_perception(config)
    source = open_source(camera.source, camera)
    source.start()
    observations: list[Observation] = []
    t0: float | None = None
    try:
        while True:
            try:
                frame = source.read(1.0)
            except SourceEnded:
                break
            if frame is None:
                continue
            t0 = frame.t if t0 is None else t0
            try:
                seen = perception.observe(frame)
            except ValueError:
                continue  # the daemon skips such a frame too
            observations.append(replace(seen, t=frame.t - t0))
    finally:
        source.stop()
    return Recording(str(replay), truth, tuple(observations))


def track(recording: Recording, mood: MoodConfig) -> list[dict[str, Any]]:
    """The events the daemon would have written for these observations with these settings."""
    tracker = MoodTracker(mood)
    events: list[dict[str, Any]] = []
    for obs in recording.observations:
        for change in tracker.update(obs):
            events.append(_event(change, seq=len(events)))
    return events


def _event(change: MoodChange | PresenceChange, seq: int) -> dict[str, Any]:
    if isinstance(change, MoodChange):
        return {"type": "mood", "emotion": change.emotion, "t": change.t, "seq": seq}
    return {"type": "presence", "present": change.present, "t": change.t, "seq": seq}


def per_replay(recordings: Sequence[Recording], mood: MoodConfig) -> list[dict[str, Any]]:
    """score.py's score of one setting on each recording."""
    return [score(track(r, mood), r.truth) for r in recordings]


def evaluate(recordings: Sequence[Recording], mood: MoodConfig) -> dict[str, Any]:
    """score.py's pooled score of one setting over the recordings."""
    return pool(per_replay(recordings, mood))


def utility(result: Mapping[str, Any]) -> float | None:
    """The ranking figure of the module doc; None for a setting that misses a target."""
    return raw_utility(result) if all(result["pass"].values()) else None


def raw_utility(result: Mapping[str, Any]) -> float:
    flicker, agreement, quick = result["flicker"], result["agreement"], result["within_2s"]
    return float(agreement + QUICK_WEIGHT * quick - FLICKER_WEIGHT * (flicker - 1.0))


def paired_difference(
    new: Sequence[Mapping[str, Any]],
    old: Sequence[Mapping[str, Any]],
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """new − old on the same replays, with a 95 % interval from resampling whole replays (both
    settings on the same draw): is a difference more than the luck of these replays?"""
    rng = np.random.default_rng(seed)
    keys: dict[str, Callable[[Mapping[str, Any]], float]] = {"utility": raw_utility}
    keys.update({k: _getter(k) for k in ("agreement", "flicker", "within_2s")})
    point = {k: f(pool(new)) - f(pool(old)) for k, f in keys.items()}
    draws: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(resamples):
        pick = rng.integers(0, len(new), len(new))
        a, b = pool([new[i] for i in pick]), pool([old[i] for i in pick])
        for k, f in keys.items():
            draws[k].append(f(a) - f(b))
    return {
        k: {
            "diff": round(point[k], 4),
            "low": round(float(np.percentile(draws[k], 2.5)), 4),
            "high": round(float(np.percentile(draws[k], 97.5)), 4),
        }
        for k in keys
    }


def _getter(key: str) -> Callable[[Mapping[str, Any]], float]:
    return lambda result: float(result[key])


def settings(grid: Mapping[str, Sequence[float]] = GRID) -> Iterable[dict[str, float]]:
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        yield dict(zip(keys, values, strict=True))


def search(
    recordings: Sequence[Recording],
    base: MoodConfig,
    grid: Mapping[str, Sequence[float]] = GRID,
) -> list[dict[str, Any]]:
    """Every setting of the grid scored on the recordings, best first (misses of a target last)."""
    rows = []
    for values in settings(grid):
        result = evaluate(recordings, msgspec.structs.replace(base, **values))
        rows.append({"settings": values, "utility": utility(result), **_figures(result)})
    return sorted(rows, key=lambda row: (row["utility"] is None, -(row["utility"] or 0.0)))


def _figures(result: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("flicker", "agreement", "median_delay_s", "within_2s", "missed_changes", "pass")
    return {key: result[key] for key in keys}


def _tunable(mood: MoodConfig, grid: Mapping[str, Sequence[float]]) -> dict[str, float]:
    return {key: float(getattr(mood, key)) for key in grid}


def run_grid(
    tune: Sequence[Path],
    held_out: Sequence[Path],
    config: Config,
    grid: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Record both sets, search the grid on `tune`, and score the best and the current settings
    on both sets side by side."""
    grid = GRID if grid is None else grid
    started = time.monotonic()
    tune_rec = [record(p, config) for p in tune]
    held_rec = [record(p, config) for p in held_out]
    recorded_s = time.monotonic() - started
    rows = search(tune_rec, config.mood, grid)
    searched_s = time.monotonic() - started - recorded_s
    best = rows[0]["settings"] if rows and rows[0]["utility"] is not None else None
    candidates = {"current": _tunable(config.mood, grid)}
    if best is not None:
        candidates["best"] = best
    compared: dict[str, dict[str, Any]] = {}
    scores: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name, values in candidates.items():
        mood = msgspec.structs.replace(config.mood, **values)
        compared[name] = {"settings": values}
        for label, recs in (("tune", tune_rec), ("held_out", held_rec)):
            if recs:
                scores[name, label] = per_replay(recs, mood)
                result = pool(scores[name, label])
                compared[name][label] = {"utility": utility(result), **_figures(result)}
    differences = {
        label: paired_difference(scores["best", label], scores["current", label])
        for label in ("tune", "held_out")
        if ("best", label) in scores
    }
    return {
        "model": config.emotion.model,
        "tune": [str(p) for p in tune],
        "held_out": [str(p) for p in held_out],
        "frames": sum(len(r.observations) for r in [*tune_rec, *held_rec]),
        "grid": {k: list(v) for k, v in grid.items()},
        "objective": f"agreement + {QUICK_WEIGHT} * within_2s - {FLICKER_WEIGHT} * (flicker - 1)",
        "targets": TARGETS,
        "settings_scored": len(rows),
        "settings_passing": sum(1 for row in rows if row["utility"] is not None),
        "compared": compared,
        "best_minus_current": differences,
        "top": rows[:10],
        "record_s": round(recorded_s, 1),
        "search_s": round(searched_s, 1),
    }


def report(result: Mapping[str, Any]) -> str:
    lines = [
        f"mood grid: {result['settings_scored']} settings on {len(result['tune'])} replays "
        f"({result['settings_passing']} meet the targets), model {result['model']}",
        f"objective: {result['objective']}",
        "",
        f"{'':24} {'utility':>8} {'flicker':>8} {'agree':>6} {'delay':>6} {'<=2s':>6}",
    ]
    for name, entry in result["compared"].items():
        lines.append(f"{name}: " + ", ".join(f"{k} {v:g}" for k, v in entry["settings"].items()))
        for label in ("tune", "held_out"):
            if label in entry:
                f = entry[label]
                u = "miss" if f["utility"] is None else f"{f['utility']:.3f}"
                lines.append(
                    f"  {label:22} {u:>8} {f['flicker']:>8.3f} {f['agreement']:>6.3f} "
                    f"{f['median_delay_s']:>6.2f} {f['within_2s']:>6.3f}"
                )
    for label, diffs in result.get("best_minus_current", {}).items():
        parts = [
            f"{k} {d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]" for k, d in diffs.items()
        ]
        lines.append(f"best - current, {label}: " + ", ".join(parts))
    return "\n".join(lines)


def cli_mood_grid(args: Any) -> int:
    config = config_mod.load(getattr(args, "config", None))
    tune = [Path(p) for p in args.mood_grid]
    held_out = [Path(p) for p in (getattr(args, "held_out", None) or [])]
    for replay in [*tune, *held_out]:
        if not (replay / "truth.json").is_file():
            log.error("bench --mood-grid: %s has no truth.json (scripts/make_replay.py)", replay)
            return EX_NOINPUT
    result = run_grid(tune, held_out, config)
    print(json.dumps(result, indent=1) if getattr(args, "json", False) else report(result))
    return 0
