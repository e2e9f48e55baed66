"""Published moods scored against a labelled replay's truth: what `moodpi bench --mood` reports
for the daemon's events and `moodpi bench --mood-grid` for each setting of the tracker.

The replay (scripts/make_replay.py) holds frames/ and truth.json: segments of one emotion, or of
an empty room (emotion null), on the replay's frame clock. `score` compares the events of one run
(mood and presence events, on that clock) with the truth:

- flicker: published mood changes per true change. A true change is a face segment whose
  emotion differs from the segment before (an empty room counts as no emotion: after an
  absence the tracker publishes the returning mood anew).
- agreement: the fraction of face segments whose published mood is right, where a segment's
  published mood is the one in force for the longest time in its second half. The first half
  is left to smoothing and dwell; unlike a sample at the very end, a late flip does not count.
  Presence-off ends a mood (none in force), as in the tracker.
- delay: for each true change, from the segment's start to the first published change to its
  emotion within the segment (0 when that mood was already in force); a change not published
  before the segment ends is `missed`, left out of the median (`within_2s`, the share of true
  changes published within 2 s, counts it as late).

Several replays are scored one by one and pooled: changes, segments and delays are summed over
all of them before the ratios and the median are taken. One 20-segment replay holds only ~16
true changes, so its median delay swings by a second between replays of the same config; the
targets are judged on the pool, and each replay's own numbers are listed beside it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moodpi.types import EMOTIONS

TARGETS = {"flicker": 1.3, "agreement": 0.75, "median_delay_s": 2.0}  # issue #3, at 10 fps

Timeline = list[tuple[float, str | None]]  # (t, mood in force from t on); None: no mood


def load_truth(path: Path) -> dict[str, Any]:
    """truth.json, checked: fps > 0 and segments of emotion (or null) with start_s < end_s."""
    try:
        truth = json.loads(Path(path).read_text(encoding="utf-8"))
        fps = float(truth["fps"])
        segments = [
            {"emotion": s["emotion"], "start_s": float(s["start_s"]), "end_s": float(s["end_s"])}
            for s in truth["segments"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a replay truth file: {exc}") from None
    if fps <= 0 or not segments:
        raise ValueError(f"{path}: needs fps > 0 and at least one segment")
    for s in segments:
        if s["emotion"] is not None and s["emotion"] not in EMOTIONS:
            raise ValueError(f"{path}: unknown emotion {s['emotion']!r}")
        if not s["start_s"] < s["end_s"]:
            raise ValueError(f"{path}: segment with start_s >= end_s: {s}")
    return {**truth, "fps": fps, "segments": segments}


def published_timeline(events: Sequence[Mapping[str, Any]]) -> Timeline:
    """Mood events set the mood; presence-off clears it. In frame-clock order."""
    changes: Timeline = []
    for e in sorted(events, key=lambda e: (float(e["t"]), int(e.get("seq", 0)))):
        if e.get("type") == "mood":
            changes.append((float(e["t"]), str(e["emotion"])))
        elif e.get("type") == "presence" and not e.get("present"):
            changes.append((float(e["t"]), None))
    return changes


def mood_before(timeline: Timeline, t: float) -> str | None:
    """The mood in force just before t."""
    mood = None
    for at, emotion in timeline:
        if at >= t:
            break
        mood = emotion
    return mood


def longest_in(timeline: Timeline, start_s: float, end_s: float) -> str | None:
    """The mood in force for the longest time within [start_s, end_s)."""
    held: dict[str | None, float] = {}
    mood, since = mood_before(timeline, start_s), start_s
    for at, emotion in [*[c for c in timeline if start_s <= c[0] < end_s], (end_s, None)]:
        held[mood] = held.get(mood, 0.0) + at - since
        mood, since = emotion, at
    return max(held.items(), key=lambda item: item[1])[0]


def score(events: Sequence[Mapping[str, Any]], truth: Mapping[str, Any]) -> dict[str, Any]:
    """Flicker, segment agreement (overall and per emotion), delays; see the module doc."""
    segments = truth["segments"]
    timeline = published_timeline(events)
    n_published = sum(1 for e in events if e.get("type") == "mood")
    previous = [None, *[s["emotion"] for s in segments[:-1]]]
    true_changes = [
        s for s, p in zip(segments, previous, strict=True) if s["emotion"] and s["emotion"] != p
    ]

    per_emotion: dict[str, list[int]] = {}  # emotion → [agreeing, segments]
    confusions: dict[str, int] = {}
    for s in (s for s in segments if s["emotion"]):
        mid_s = (s["start_s"] + s["end_s"]) / 2
        published = longest_in(timeline, mid_s, s["end_s"])
        tally = per_emotion.setdefault(s["emotion"], [0, 0])
        tally[0] += published == s["emotion"]
        tally[1] += 1
        if published != s["emotion"]:
            key = f"{s['emotion']} → {published or 'none'}"
            confusions[key] = confusions.get(key, 0) + 1

    delays, missed = [], 0
    for s in true_changes:
        delay = _delay(timeline, s)
        if delay is None:
            missed += 1
        else:
            delays.append(delay)

    empty = [s for s in segments if s["emotion"] is None]
    absent_ok = sum(
        1 for s in empty if any(s["start_s"] <= t <= s["end_s"] and m is None for t, m in timeline)
    )
    result: dict[str, Any] = {
        "segments": len(segments),
        "face_segments": sum(n for _, n in per_emotion.values()),
        "true_changes": len(true_changes),
        "published_changes": n_published,
        "agreeing_segments": sum(a for a, _ in per_emotion.values()),
        "missed_changes": missed,
        "delays_s": delays,
        "per_emotion": {
            e: {"agreeing": a, "segments": n} for e, (a, n) in sorted(per_emotion.items())
        },
        "confusions": dict(sorted(confusions.items(), key=lambda item: -item[1])),
        "empty_segments": len(empty),
        "empty_with_presence_off": absent_ok,
    }
    return _with_ratios(result)


def _with_ratios(counts: dict[str, Any]) -> dict[str, Any]:
    """Flicker, agreement and delay statistics from the counts, and the verdict on the targets."""
    changes, faces, delays = counts["true_changes"], counts["face_segments"], counts["delays_s"]
    counts.update(
        flicker=round(counts["published_changes"] / changes, 3) if changes else None,
        agreement=round(counts["agreeing_segments"] / faces, 3) if faces else None,
        median_delay_s=round(statistics.median(delays), 2) if delays else None,
        max_delay_s=round(max(delays), 2) if delays else None,
        # Missed changes are left out of the median; this share counts them as late.
        within_2s=round(sum(d <= TARGETS["median_delay_s"] for d in delays) / changes, 3)
        if changes
        else None,
    )
    for tally in counts["per_emotion"].values():
        tally["agreement"] = round(tally["agreeing"] / tally["segments"], 3)
    counts["pass"] = _check_targets(counts)
    return counts


SUMMED = (
    "segments", "face_segments", "true_changes", "published_changes", "agreeing_segments",
    "missed_changes", "empty_segments", "empty_with_presence_off", "frames",
)  # fmt: skip


def pool(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several replays' scores as one: counts summed, delays concatenated, ratios recomputed."""
    pooled: dict[str, Any] = {key: sum(int(r.get(key, 0)) for r in results) for key in SUMMED}
    pooled["delays_s"] = [d for r in results for d in r["delays_s"]]
    per_emotion: dict[str, dict[str, Any]] = {}
    confusions: dict[str, int] = {}
    for r in results:
        for emotion, tally in r["per_emotion"].items():
            into = per_emotion.setdefault(emotion, {"agreeing": 0, "segments": 0})
            into["agreeing"] += tally["agreeing"]
            into["segments"] += tally["segments"]
        for key, n in r["confusions"].items():
            confusions[key] = confusions.get(key, 0) + n
    pooled["per_emotion"] = dict(sorted(per_emotion.items()))
    pooled["confusions"] = dict(sorted(confusions.items(), key=lambda item: -item[1]))
    return _with_ratios(pooled)


def _delay(timeline: Timeline, segment: Mapping[str, Any]) -> float | None:
    start_s, end_s, emotion = segment["start_s"], segment["end_s"], segment["emotion"]
    if mood_before(timeline, start_s) == emotion:
        return 0.0
    hit = next((t for t, m in timeline if start_s <= t < end_s and m == emotion), None)
    return None if hit is None else round(hit - start_s, 3)


def _check_targets(result: Mapping[str, Any]) -> dict[str, bool]:
    def ok(key: str, better: str) -> bool:
        value: float | None = result[key]
        if value is None:
            return False
        return value <= TARGETS[key] if better == "low" else value >= TARGETS[key]

    return {
        "flicker": ok("flicker", "low"),
        "agreement": ok("agreement", "high"),
        "median_delay_s": ok("median_delay_s", "low"),
    }
