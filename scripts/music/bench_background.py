"""Does the daemon keep its frame rate while a large library is analysed behind it? (issue 17)

Builds a flat library of N tracks (the demo's synthesised clips, each a distinct file: the
analysis caches by path, size and mtime, so every one is analysed), then runs the real daemon
(`moodpi run`) on the demo replay in real time at 10 fps, looping, with SDL's disk audio, and
samples its status file once a second:

1. **baseline**: the library already analysed (a second start: nothing left to do);
2. **analysing**: a fresh state dir, so the daemon's niced analyser child works through all N.

Printed and written as JSON: frames per second in both phases (median of 1 s samples), how long
the analysis took and how many tracks it placed.

    .venv/bin/python scripts/music/bench_background.py --out bench/music-background.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from moodpi.lab.launch import daemon_env, run_command

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from musicgen import generate_flat_library  # noqa: E402

CONFIG = """\
state_dir = "{state}"
[camera]
source = "replay:{replay}"
fps = 10.0
realtime = true
loop = true
[music]
root = "{music}"
fade_ms = 200
"""


def build_library(root: Path, tracks: int) -> None:
    """`tracks` distinct files: the demo clips, each copy with its own length (a few samples
    of silence appended), so no two share path, size and mtime."""
    seeds = generate_flat_library(root / "_seed", seconds=6.0, seed=1)
    for i in range(tracks):
        src = seeds[i % len(seeds)]
        dst = root / f"track_{i:04d}.wav"
        if not dst.exists():
            data = bytearray(src.read_bytes())
            data += b"\0\0" * (i + 1)  # trailing samples: a distinct file; wav headers tolerate it
            dst.write_bytes(bytes(data))
    shutil.rmtree(root / "_seed")


def run_phase(work: Path, seconds: float, until_analysed: int | None) -> dict[str, object]:
    env = daemon_env(audio_file=os.devnull, runtime_dir=work / "run", keep_settings=True)
    (work / "run").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        run_command(config=work / "config.toml"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    status_file = work / "run" / "status.json"
    samples: list[float] = []
    last_frames, last_t = None, None
    started = time.monotonic()
    done_s = None
    analysed = 0
    try:
        while time.monotonic() - started < seconds:
            time.sleep(1.0)
            try:
                data = json.loads(status_file.read_text())
            except (OSError, ValueError):
                continue
            frames = int((data.get("diagnostics") or {}).get("frames", 0))
            now = time.monotonic()
            if last_frames is not None and last_t is not None and frames > last_frames:
                samples.append((frames - last_frames) / (now - last_t))
            last_frames, last_t = frames, now
            library = data.get("library") or {}
            analysed = int(library.get("analysed") or 0)
            if until_analysed and done_s is None and analysed >= until_analysed:
                done_s = round(now - started, 1)
                seconds = min(seconds, now - started + 5.0)  # a few samples after, then stop
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {
        "fps_median": round(statistics.median(samples), 2) if samples else 0.0,
        "fps_min": round(min(samples), 2) if samples else 0.0,
        "samples": len(samples),
        "analysed": analysed,
        "analysis_s": done_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=REPO / "train-runs" / "music-background")
    parser.add_argument("--max-s", type=float, default=900.0, help="longest analysis phase")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = args.work.resolve()
    demo = REPO / "demo"
    if not (demo / "replay" / "frames").is_dir():
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "make_demo.py"),
                "--no-run",
                "--out",
                str(demo),
            ],
            check=True,
        )
    build_library(work / "music", args.tracks)
    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)
    (work / "config.toml").write_text(
        CONFIG.format(state=state, replay=demo / "replay" / "frames", music=work / "music")
    )
    analysing = run_phase(work, args.max_s, until_analysed=args.tracks)
    baseline = run_phase(work, 30.0, until_analysed=None)  # same state: nothing left to analyse
    result = {"tracks": args.tracks, "baseline": baseline, "analysing": analysing}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
