"""The loudness of each track in a playback SDL's disk driver rendered, and the steps between
consecutive tracks: `python scripts/music/playback_loudness.py demo/playback.raw EVENTS.jsonl`.

The raw file is what `make demo` writes without a sound card (16-bit stereo at 44.1 kHz); the
events are the daemon's JSON lines (`moodpi run --events-jsonl -`, as the demo prints them; other
lines are ignored). Tracks are cut at their track_started and track_ended times (wall clock,
pinned to where the recording's sound begins and ends), and each is measured
after ITU-R BS.1770 (moodpi.music.analysis.loudness) without 2 s at either end, where the fades
are.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from moodpi.music.analysis.loudness import segment_loudness

RATE_HZ = 44100


def _events(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return [e for e in found if e.get("type") in ("track_started", "track_ended")]


def _seconds(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()


def track_spans(events: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(title, start, end) of every track, in wall-clock seconds."""
    spans, open_at = [], {}
    for event in events:
        if event["type"] == "track_started":
            open_at[event["path"]] = (event.get("title", event["path"]), _seconds(event))
        elif event["path"] in open_at:
            title, start = open_at.pop(event["path"])
            spans.append((title, start, _seconds(event)))
    return sorted(spans, key=lambda span: span[1])


def _clock(audio: np.ndarray, first_at: float, last_at: float) -> Callable[[float], float]:
    """Wall-clock seconds → seconds into the recording. The disk driver renders a little slower
    than real time (it sleeps a buffer's length after writing each), so the recording is pinned
    at both ends: the first track starts where the sound begins, the last ends where it stops."""
    sound = np.flatnonzero(np.abs(audio).max(axis=1) > 10 ** (-60 / 20))
    first_s, last_s = sound[0] / RATE_HZ, sound[-1] / RATE_HZ
    scale = (last_s - first_s) / max(last_at - first_at, 1e-3)
    return lambda at: first_s + (at - first_at) * scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("events", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON document")
    args = parser.parse_args()
    audio = np.fromfile(args.raw, dtype="<i2").reshape(-1, 2).astype(np.float64) / 32768
    spans = track_spans(_events(args.events))
    if not spans or not audio.size:
        print("no tracks or no audio", file=sys.stderr)
        return 1
    to_raw = _clock(audio, spans[0][1], spans[-1][2])
    raw_spans = [(to_raw(a), to_raw(b)) for _, a, b in spans]
    loudness = segment_loudness(audio, RATE_HZ, raw_spans)
    rows = [{"title": t, "start_s": round(a, 2), "played_s": round(b - a, 2), "lufs": lufs}
            for (t, *_), (a, b), lufs in zip(spans, raw_spans, loudness, strict=True)]  # fmt: skip
    steps = [round(abs(b["lufs"] - a["lufs"]), 2) for a, b in itertools.pairwise(rows)
             if a["lufs"] is not None and b["lufs"] is not None]  # fmt: skip
    if args.json:
        print(json.dumps({"tracks": rows, "steps_db": steps, "max_step_db": max(steps, default=0)}))
        return 0
    for row in rows:
        lufs = f"{row['lufs']:6.1f}" if row["lufs"] is not None else "     -"
        print(f"{row['start_s']:7.1f} s  {row['played_s']:5.1f} s  {lufs} LUFS  {row['title']}")
    print(f"steps between consecutive tracks: {', '.join(f'{s:.1f}' for s in steps)} dB"
          f" (largest {max(steps, default=0):.1f} dB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
