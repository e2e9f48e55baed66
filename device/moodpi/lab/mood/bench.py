"""`moodpi bench --mood REPLAY_DIR...`: run the real daemon on labelled replays and score its
moods (lab/mood/score.py: flicker, agreement, delay, pooled over several replays).

Each replay (scripts/make_replay.py: frames/ and truth.json) is read once, as fast as it goes, by
the daemon in a subprocess (lab/launch.py) with no audio and no MQTT, its journal and status file
in a throw-away folder; its events, written as JSON lines, are scored against the truth.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moodpi.lab.launch import daemon_env, run_command
from moodpi.lab.mood.score import TARGETS, load_truth, pool, score

log = logging.getLogger(__name__)

EX_DATAERR, EX_NOINPUT = 65, 66


def run_daemon(
    command: list[str], scratch: Path, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """The daemon with the caller's settings, but its journal and status file in `scratch`, no
    broker (no made-up moods told to a real one) and the replay read once, as fast as it goes."""
    (scratch / "run").mkdir(parents=True, exist_ok=True)
    env = daemon_env(
        audio_file=None,  # --no-audio
        state_dir=scratch / "state",
        runtime_dir=scratch / "run",
        keep_settings=True,
        extra={
            "MOODPI__MQTT__HOST": "",
            "MOODPI__CAMERA__LOOP": "false",
            "MOODPI__CAMERA__REALTIME": "false",
        },
    )
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("skipping a malformed event line: %.80s", line)
    return events


def cli_mood_bench(args: Any) -> int:
    moods = [args.mood] if isinstance(args.mood, str | Path) else args.mood
    replays = [Path(m) for m in moods]
    results = []
    for replay in replays:
        result = bench_replay(replay, getattr(args, "config", None))
        if isinstance(result, int):
            return result
        results.append(result)
    if len(results) == 1:
        out = results[0]
    else:
        out = {"replays": [_summary(r) for r in results], "fps": results[0]["fps"], **pool(results)}
        out["replay"] = f"{len(results)} replays, pooled"
        out["run_s"] = round(sum(r["run_s"] for r in results), 1)
        kinds = {r["labels"] for r in results}
        out["labels"] = kinds.pop() if len(kinds) == 1 else "mixed"
    json_out = getattr(args, "json", False)
    print(json.dumps(out, indent=2, ensure_ascii=False) if json_out else report(out))
    return 0


def bench_replay(replay: Path, config: str | None) -> dict[str, Any] | int:
    """Run the daemon on one labelled replay and score it; an exit status if it cannot be done."""
    frames = replay / "frames"
    try:
        truth = load_truth(replay / "truth.json")
    except ValueError as exc:
        log.error("bench --mood: %s (make one with scripts/make_replay.py)", exc)
        return EX_NOINPUT if not (replay / "truth.json").exists() else EX_DATAERR
    n_frames = len(list(frames.glob("*.jpg"))) + len(list(frames.glob("*.png")))
    if not n_frames:
        log.error("bench --mood: no frames in %s", frames)
        return EX_NOINPUT
    with tempfile.TemporaryDirectory(prefix="moodpi-moodbench-") as tmp:
        events_path = Path(tmp) / "events.jsonl"
        command = run_command(
            source=f"replay:{frames.resolve()}",
            fps=truth["fps"],
            events_jsonl=events_path,
            no_audio=True,
            config=config,
        )
        log.info("running the daemon on %d frames: %s", n_frames, " ".join(command))
        started = time.monotonic()
        try:
            proc = run_daemon(command, Path(tmp), timeout_s=120.0 + 0.5 * n_frames)
        except subprocess.TimeoutExpired:
            log.error("bench --mood: the daemon did not finish %s in time", replay)
            return 1
        run_s = time.monotonic() - started
        if proc.returncode != 0:
            log.error(
                "bench --mood: the daemon exited %d:\n%s", proc.returncode, proc.stderr[-3000:]
            )
            return 1
        events = read_events(events_path)
    return {
        "replay": str(replay),
        "fps": truth["fps"],
        "frames": n_frames,
        "run_s": round(run_s, 1),
        # whose labels the faces carry (scripts/make_replay.py): FER+'s clear majority, or
        # FER-2013's own (replays made before issue 28 say nothing: theirs)
        "labels": truth.get("faces", {}).get("labels", "original"),
        **score(events, truth),
    }


LABELS = {
    "ferplus_majority": "FER+'s clear majority",
    "original": "FER-2013's own labels",
    "mixed": "FER+ in some replays, FER-2013 in others",
}


def _summary(r: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("replay", "true_changes", "flicker", "agreement", "median_delay_s", "missed_changes")
    return {key: r[key] for key in keys}


def report(r: Mapping[str, Any]) -> str:
    def line(name: str, key: str, fmt: str, detail: str, relation: str) -> str:
        value = "n/a" if r[key] is None else format(r[key], fmt)
        verdict = "ok" if r["pass"][key] else "MISSED"
        return f"  {name:<10} {value:>5}  {detail}  target {relation} {TARGETS[key]}  {verdict}"

    max_delay = "n/a" if r["max_delay_s"] is None else f"{r['max_delay_s']:.1f} s"
    emotions = " · ".join(
        f"{e} {v['agreement']:.2f} ({v['agreeing']}/{v['segments']})"
        for e, v in r["per_emotion"].items()
    )
    confusions = ", ".join(f"{k} ×{n}" for k, n in r["confusions"].items()) or "none"
    return "\n".join(
        [
            f"mood bench: {r['replay']}: {r['segments']} segments ({r['face_segments']} with a "
            f"face, {r['empty_segments']} empty), {r['frames']} frames at {r['fps']:g} fps; "
            f"the daemon ran {r['run_s']} s; faces labelled by {LABELS.get(r['labels'], '?')}",
            line(
                "flicker",
                "flicker",
                ".2f",
                f"published changes per true change ({r['published_changes']}/{r['true_changes']})",
                "≤",
            ),
            line(
                "agreement",
                "agreement",
                ".2f",
                f"of face segments ({r['agreeing_segments']}/{r['face_segments']})",
                "≥",
            ),
            line(
                "delay",
                "median_delay_s",
                ".2f",
                f"s median (max {max_delay}, {r['missed_changes']} missed; "
                f"{r['within_2s'] or 0:.0%} of changes within 2 s)",
                "≤",
            ),
            f"  per emotion: {emotions}",
            f"  confusions (truth → published): {confusions}",
            f"  empty room: presence off in {r['empty_with_presence_off']}/{r['empty_segments']}",
            *(_replay_line(one) for one in r.get("replays", [])),
        ]
    )


def _replay_line(r: Mapping[str, Any]) -> str:
    delay = "n/a" if r["median_delay_s"] is None else f"{r['median_delay_s']:.2f} s"
    return (
        f"    {r['replay']}: flicker {r['flicker']}, agreement {r['agreement']}, "
        f"median delay {delay} ({r['true_changes']} changes, {r['missed_changes']} missed)"
    )
