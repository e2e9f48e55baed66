#!/usr/bin/env python3
"""Side-by-side benchmark: the seed configuration against moodpi's default pipeline.

    .venv/bin/python scripts/bench.py            # a few minutes; --quick for a smoke run

Both pipelines see the same replay frames (moodpi.replaygen composes the fixture faces into
640x480 frames of a labelled replay) and each measurement runs in a fresh child process, one after
another, pinned to one CPU core with single-threaded OpenCV and TFLite:

- seed: OpenCV's Haar cascade (scaleFactor 1.3, minNeighbors 5) on the full 640x480 frame, every
  face classified by the float32 TFLite mini-XCEPTION (models/retired/emotion_float32.tflite),
  no frame ever dropped;
- moodpi: `build_perception` on the default config (BlazeFace + the int8 model).

The latency child is `moodpi bench`'s own measured process (lab/bench.py: detect / classify /
whole frame over `--frames` frames as fast as it can, sustained frames/s on one core, peak RSS),
given the seed's pipeline by `--build bench:seed_perception`; each frame's top emotion is scored
against the replay's truth for context. Paced children (here) run the pipeline at 5/10/15/30
fps for `--paced-s` seconds and report process CPU time / wall time as a percentage of one
core. A pipeline that cannot sustain a rate is not paced at it: without dropping frames it would
fall ever further behind, so its CPU there is 100 % and the rate it reaches is its sustained one.

Writes bench/results.json and bench/bench.png (latency distributions, CPU against fps).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FACES_DIR = REPO / "tests" / "fixtures" / "faces"
PIPELINES = ("seed", "moodpi")
PACED_FPS = (5.0, 10.0, 15.0, 30.0)
SEED_SCALE_FACTOR = 1.3
SEED_MIN_NEIGHBORS = 5
SEED_MODEL = "retired/emotion_float32.tflite"
REPLAY_FPS = 10.0
# Every emotion, and an empty room, so both the detector's misses and false alarms show.
SEGMENTS: list[tuple[str | None, float]] = [
    ("happy", 3.0),
    ("sad", 3.0),
    (None, 2.0),
    ("angry", 3.0),
    ("surprise", 3.0),
    ("fear", 3.0),
    ("neutral", 3.0),
    ("disgust", 3.0),
]
CHILD_TIMEOUT_S = 900.0
BUILDERS = {"seed": "bench:seed_perception", "moodpi": None}  # lab/bench.py --build


# ---------------------------------------------------------------------------------------------
# Parent


def make_replay(out: Path) -> Path:
    from moodpi.lab.replaygen import load_fixture_faces, make_labelled_replay

    make_labelled_replay(
        load_fixture_faces(FACES_DIR), out, fps=REPLAY_FPS, segments=SEGMENTS, seed=5
    )
    return out


def child_environment() -> None:
    """What every child inherits: single-threaded libraries (set before any reads them), the
    default config whatever MOODPI__ says, this folder importable (`--build bench:...`)."""
    from moodpi.lab.launch import with_package_path

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOODPI__")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    here = str(Path(__file__).resolve().parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    os.environ.clear()
    os.environ.update(with_package_path(env))


def latency(pipeline: str, replay: Path, cpu: int, frames: int) -> dict[str, Any]:
    """`moodpi bench`'s measured child on the replay's frames, and the quality of what it read."""
    from moodpi.lab.bench import run_child

    encoded, truth = load_replay(replay)
    result = run_child(
        encoded, frames=frames, config_path=None, cpu=cpu, build=BUILDERS[pipeline], samples=True
    )
    hits = {"face_frames": 0, "found": 0, "empty_frames": 0, "false": 0, "right": 0}
    for j, top in enumerate(result.pop("tops")):
        _score(hits, truth[(j + 1) % len(truth)], top)  # the child times frames 1..N
    result["quality"] = {
        "face_recall": hits["found"] / max(1, hits["face_frames"]),
        "false_face_rate": hits["false"] / max(1, hits["empty_frames"]),
        "top1_accuracy": hits["right"] / max(1, hits["face_frames"]),
    }
    return result


def run_paced(pipeline: str, replay: Path, cpu: int, fps: float, seconds: float) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", pipeline]
    command += ["--replay", str(replay), "--cpu", str(cpu), "--fps", str(fps)]
    command += ["--seconds", str(seconds)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"paced {pipeline} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def pick_cpu(requested: int | None) -> int:
    allowed = sorted(os.sched_getaffinity(0))
    if requested is None:
        return allowed[-1]
    if requested not in allowed:
        raise SystemExit(f"--cpu {requested} is not one of the allowed CPUs {allowed}")
    return requested


def measure(args: argparse.Namespace, replay: Path) -> dict[str, Any]:
    cpu = pick_cpu(args.cpu)
    child_environment()
    results: dict[str, Any] = {}
    for name in PIPELINES:
        print(f"[{name}] latency over {args.frames} frames ...", flush=True)
        timed = latency(name, replay, cpu, args.frames)
        paced: dict[str, Any] = {}
        for fps in args.paced_fps:
            if timed["fps_one_core"] < fps:
                paced[f"{fps:g}"] = {"kept_up": False, "cpu_pct": 100.0, "fps_reached": None}
                continue
            print(f"[{name}] paced at {fps:g} fps for {args.paced_s:g} s ...", flush=True)
            paced[f"{fps:g}"] = run_paced(name, replay, cpu, fps, args.paced_s)
        results[name] = {**timed, "paced": paced}
    return {
        "cpu": cpu,
        "frames": args.frames,
        "paced_s": args.paced_s,
        "paced_fps": list(args.paced_fps),
        "replay": {"size": [640, 480], "fps": REPLAY_FPS, "segments": SEGMENTS},
        "pipelines": results,
        "ratios_moodpi_over_seed": ratios(results["seed"], results["moodpi"]),
        "host": {"cpus": os.cpu_count(), "load_avg_at_end": list(os.getloadavg())},
    }


def ratios(seed: dict[str, Any], ours: dict[str, Any]) -> dict[str, float | None]:
    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    out: dict[str, float | None] = {}
    for stage in ("detect_ms", "classify_ms", "frame_ms"):
        for stat in ("median", "p90"):
            out[f"{stage}_{stat}"] = div(ours[stage][stat], seed[stage][stat])
    out["fps_one_core"] = div(ours["fps_one_core"], seed["fps_one_core"])
    out["cpu_pct_at_10fps"] = div(cpu_at(ours, 10.0), cpu_at(seed, 10.0))
    out["peak_rss_mb"] = div(ours["peak_rss_mb"], seed["peak_rss_mb"])
    return out


def cpu_at(result: dict[str, Any], fps: float) -> float | None:
    entry = result["paced"].get(f"{fps:g}")
    return None if entry is None else entry["cpu_pct"]


def report(r: dict[str, Any]) -> str:
    p = r["pipelines"]
    lines = [f"bench: {r['frames']} frames of 640x480, one core (cpu {r['cpu']}), 1 thread"]
    lines.append(f"{'':28}{'seed':>18}{'moodpi':>18}{'moodpi/seed':>13}")
    rat = r["ratios_moodpi_over_seed"]
    for stage in ("detect_ms", "classify_ms", "frame_ms"):
        for stat in ("median", "p90"):
            a, b = p["seed"][stage][stat], p["moodpi"][stage][stat]
            key = f"{stage}_{stat}"
            lines.append(f"  {key:26}{a:15.2f} ms{b:15.2f} ms{_ratio(rat[key])}")
    a, b = p["seed"]["fps_one_core"], p["moodpi"]["fps_one_core"]
    lines.append(f"  {'sustained frames/s':26}{a:18.1f}{b:18.1f}{_ratio(rat['fps_one_core'])}")
    for fps in r["paced_fps"]:
        cells = []
        for name in PIPELINES:
            entry = p[name]["paced"][f"{fps:g}"]
            cells.append(f"{entry['cpu_pct']:16.1f} %" if entry["kept_up"] else "  can't keep up")
        ratio = _ratio(rat["cpu_pct_at_10fps"]) if fps == 10.0 else ""
        lines.append(f"  {f'CPU at {fps:g} fps':26}{cells[0]:>18}{cells[1]:>18}{ratio}")
    a, b = p["seed"]["peak_rss_mb"], p["moodpi"]["peak_rss_mb"]
    lines.append(f"  {'peak RSS':26}{a:15.1f} MB{b:15.1f} MB{_ratio(rat['peak_rss_mb'])}")
    for name in PIPELINES:
        q = p[name]["quality"]
        lines.append(
            f"  {name}: face found in {q['face_recall']:.0%} of face frames, false face in "
            f"{q['false_face_rate']:.0%} of empty frames, top emotion right on "
            f"{q['top1_accuracy']:.0%} of face frames"
        )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return f"{value:12.2f}x" if value is not None else f"{'-':>13}"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = r["pipelines"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    data, labels = [], []
    for stage in ("detect_ms", "classify_ms", "frame_ms"):
        for name in PIPELINES:
            data.append(p[name]["samples_ms"][stage] or [0.0])
            labels.append(f"{name}\n{stage.removesuffix('_ms')}")
    box = left.boxplot(data, showfliers=True, whis=(5, 95), patch_artist=True)
    for i, patch in enumerate(box["boxes"]):
        patch.set_facecolor("#d9a441" if i % 2 == 0 else "#4a90c2")
    left.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    left.set_yscale("log")
    left.set_ylabel("ms per frame (log)")
    left.set_title("Latency per stage, one core (whiskers 5-95 %)")
    for name, colour in zip(PIPELINES, ("#d9a441", "#4a90c2"), strict=True):
        xs = [fps for fps in r["paced_fps"] if p[name]["paced"][f"{fps:g}"]["kept_up"]]
        ys = [p[name]["paced"][f"{fps:g}"]["cpu_pct"] for fps in xs]
        right.plot(xs, ys, "o-", color=colour, label=name)
        if len(xs) < len(r["paced_fps"]):
            sustained = p[name]["fps_one_core"]
            right.axvline(sustained, color=colour, ls=":", label=f"{name}: max {sustained:.1f} fps")
    right.axhline(100, color="grey", lw=0.8)
    right.set_xlabel("frames per second asked")
    right.set_ylabel("CPU, % of one core")
    right.set_xticks(r["paced_fps"])
    right.set_title("CPU against frame rate")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few frames, short paced runs")
    parser.add_argument("--frames", type=int, help="frames timed per pipeline (default 300)")
    parser.add_argument("--paced-s", type=float, help="seconds per paced run (default 10)")
    parser.add_argument(
        "--paced-fps",
        type=lambda text: tuple(float(x) for x in text.split(",")),
        default=PACED_FPS,
        help="comma-separated rates for the CPU runs (default 5,10,15,30)",
    )
    parser.add_argument("--cpu", type=int, help="core to pin the children to (default: last)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--plot", type=Path, help="PNG (default: bench.png beside --out)")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    args.frames = args.frames or (40 if args.quick else 300)
    args.paced_s = args.paced_s or (2.0 if args.quick else 10.0)
    if args.frames < 1 or args.paced_s <= 0:
        parser.error("--frames and --paced-s must be positive")
    with tempfile.TemporaryDirectory(prefix="moodpi-bench-") as tmp:
        replay = make_replay(Path(tmp) / "replay")
        result = measure(args, replay)
    result["quick"] = args.quick
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    print(f"written {args.out}")
    if not args.no_plot:
        png = args.plot or args.out.with_name("bench.png")
        plot(result, png)
        print(f"plot    {png}")
    return 0


# ---------------------------------------------------------------------------------------------
# Child: one measured process


def child_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py --child")
    parser.add_argument("pipeline", choices=PIPELINES)
    parser.add_argument("--replay", type=Path, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    # Pinned before any library starts a thread: its threads inherit the one core.
    os.sched_setaffinity(0, {args.cpu})
    import cv2

    from moodpi import config as config_mod
    from moodpi.perception.pipeline import build_perception

    cv2.setNumThreads(1)
    config = config_mod.load(None)  # the defaults: the parent dropped MOODPI__ settings
    perception = seed_perception(config) if args.pipeline == "seed" else build_perception(config)
    encoded, _ = load_replay(args.replay)
    print(json.dumps(paced(perception, encoded, args.fps, args.seconds)))
    return 0


def seed_perception(config: Any) -> Any:
    """The seed configuration: Haar on the whole frame, every face classified by the float32
    model on the bare box (`--build bench:seed_perception` for the latency child)."""
    from moodpi.perception.classify.emotion import EmotionClassifier
    from moodpi.perception.detect.haar import HaarDetector
    from moodpi.perception.pipeline import Perception

    detector = HaarDetector(scale_factor=SEED_SCALE_FACTOR, min_neighbors=SEED_MIN_NEIGHBORS)
    detector.open()
    classifier = EmotionClassifier.from_file(config.model_path(SEED_MODEL), num_threads=1)
    return Perception(detector, classifier, select="all", margin=0.0, shift_up=0.0)


def load_replay(replay: Path) -> tuple[list[bytes], list[str | None]]:
    """The frames as JPEG bytes (decoded per frame, outside the timed region) and each frame's
    true emotion (None: empty room)."""
    meta = json.loads((replay / "truth.json").read_text())
    files = sorted((replay / "frames").glob("*.jpg"))
    truth: list[str | None] = []
    for i in range(len(files)):
        t = i / meta["fps"]
        seg = next(
            (s for s in meta["segments"] if s["start_s"] <= t < s["end_s"]), meta["segments"][-1]
        )
        truth.append(seg["emotion"])
    return [f.read_bytes() for f in files], truth


def decode(data: bytes) -> Any:
    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def _score(hits: dict[str, int], truth: str | None, top: str | None) -> None:
    """One frame: `top` is the emotion read from its largest face (moodpi's vote), None: none."""
    if truth is None:
        hits["empty_frames"] += 1
        hits["false"] += top is not None
        return
    hits["face_frames"] += 1
    hits["found"] += top is not None
    hits["right"] += top == truth


def paced(perception: Any, encoded: list[bytes], fps: float, seconds: float) -> dict[str, Any]:
    """Process one frame per tick of `fps` for `seconds`; CPU = process CPU time / wall time.

    Frames are decoded beforehand (a camera hands over decoded frames), so the CPU measured is
    the pipeline's and the idle loop's, nothing else.
    """
    from moodpi.types import Frame

    images = [decode(data) for data in encoded[:50]]
    perception.observe(Frame(images[0], 0.0, 0))
    period_s = 1.0 / fps
    frames = late = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    next_due = wall0
    while (now := time.perf_counter()) - wall0 < seconds:
        if now < next_due:
            time.sleep(next_due - now)
        perception.observe(Frame(images[frames % len(images)], frames * period_s, frames))
        frames += 1
        next_due += period_s
        if time.perf_counter() > next_due:
            late += 1
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return {
        "kept_up": late <= frames * 0.05,
        "cpu_pct": round(100.0 * cpu / wall, 2),
        "fps_reached": round(frames / wall, 2),
        "frames": frames,
        "frames_late": late,
    }


if __name__ == "__main__":
    sys.exit(main())
