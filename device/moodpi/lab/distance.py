"""`moodpi bench --distance`: can the pipeline see and read faces across a room, among clutter?

Real photographs of the validation persons are composed into camera frames by lens geometry,
with living-room clutter around them (lab/scene.py): logos, badges, lamps, cloth, shelves. One
scene in three holds a second person at another distance.

Pipelines, side by side in one run, on the same photos, distances and clutter:
* **old**: one whole-frame BlazeFace pass on a 640x480 frame (faces.reach_m = 0), as shipped
  before room-scale sight;
* **unverified**: the configured detector without the second look (faces.verify_model = "");
* **new**: the configured pipeline (default: RoomDetector on 1280x720 with the face landmark
  verifier). A stream is shown the scene for one sweep of frames, as a person who sits down for
  a few seconds; recall counts the faces reported in the last frame. Frames to first detection
  are reported too.

Per distance: recall, false faces per frame of the stream (`false_per_frame`) and of the scene
read as a still image (`still_false_per_frame`, as `moodpi classify` reads a photo), and the
emotion accuracy of the largest face (the label of the photo against the prediction;
`acc_found` only over scenes where it was found). Whole-frame cost (colour conversion +
detection + verification + classification) is timed on one core.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import msgspec
import numpy as np

from moodpi import config as config_mod
from moodpi.config import Config
from moodpi.lab.scene import DISTANCES_M, Person, Photo, compose_scene, load_photos, matches, scenes
from moodpi.perception.pipeline import Perception, build_perception
from moodpi.types import Frame, Observation

log = logging.getLogger(__name__)

OLD_SIZE = (640, 480)
CLUTTER_ITEMS = 8
DEFAULT_PHOTOS = Path(__file__).resolve().parents[3].parent / "shared/data/lfw-expressions"


class Tally:
    """Counts per distance for one pipeline."""

    def __init__(self) -> None:
        self.rows: dict[float, dict[str, float]] = {
            d: {
                "faces": 0,
                "found": 0,
                "false": 0,
                "frames": 0,
                "largest": 0,
                "largest_found": 0,
                "correct": 0,
                "first_frame_sum": 0,
                "still_false": 0,
                "stills": 0,
            }
            for d in DISTANCES_M
        }
        self.frame_ms: list[float] = []

    def summary(self) -> dict[str, Any]:
        out = {}
        for d, r in self.rows.items():
            out[f"{d:g}"] = {
                "recall": round(r["found"] / max(r["faces"], 1), 3),
                "false_per_frame": round(r["false"] / max(r["frames"], 1), 4),
                "still_false_per_frame": round(r["still_false"] / max(r["stills"], 1), 4),
                "emotion_acc": round(r["correct"] / max(r["largest"], 1), 3),
                "emotion_acc_found": round(r["correct"] / max(r["largest_found"], 1), 3),
                "first_frame_mean": round(r["first_frame_sum"] / max(r["found"], 1), 1),
                "faces": int(r["faces"]),
            }
        ms = np.asarray(self.frame_ms or [0.0])
        total = {k: sum(r[k] for r in self.rows.values()) for k in ("false", "frames")}
        stills = {k: sum(r[k] for r in self.rows.values()) for k in ("still_false", "stills")}
        return {
            "by_distance_m": out,
            "false_per_frame": round(total["false"] / max(total["frames"], 1), 4),
            "still_false_per_frame": round(stills["still_false"] / max(stills["stills"], 1), 4),
            "frame_ms_median": round(float(np.median(ms)), 3),
            "frame_ms_p90": round(float(np.percentile(ms, 90)), 3),
        }


def run_pipeline(
    perception: Perception,
    size: tuple[int, int],
    frames_per_scene: int,
    photos: Sequence[Photo],
    hfov_deg: float,
    seed: int,
    clutter: int = 0,
) -> Tally:
    tally = Tally()
    rng = np.random.default_rng(seed)
    for people in scenes(photos, seed):
        grey, placed = compose_scene(people, size, hfov_deg, rng, clutter)
        bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)  # a camera gives colour: convert each frame
        still = perception.observe_still(Frame(image=bgr, t=0.0, index=0))
        row = tally.rows[people[0][1]]
        row["still_false"] += sum(not any(matches(f, p.box) for p in placed) for f in still.faces)
        row["stills"] += 1
        perception.detector.reset()
        first_seen: dict[int, int] = {}
        for i in range(frames_per_scene):
            t0 = time.perf_counter()
            seen = perception.observe(Frame(image=bgr, t=i / 10.0, index=i))
            tally.frame_ms.append((time.perf_counter() - t0) * 1000.0)
            faces = list(seen.faces)
            for k, person in enumerate(placed):
                if k not in first_seen and any(matches(f, person.box) for f in faces):
                    first_seen[k] = i
            false = sum(not any(matches(f, p.box) for p in placed) for f in faces)
            tally.rows[people[0][1]]["false"] += false
            tally.rows[people[0][1]]["frames"] += 1
        _score_last_frame(tally, seen, placed, first_seen)
    return tally


def _score_last_frame(
    tally: Tally, seen: Observation, placed: Sequence[Person], first_seen: dict[int, int]
) -> None:
    largest = max(range(len(placed)), key=lambda k: placed[k].box[2])
    for k, person in enumerate(placed):
        row = tally.rows[person.distance_m]
        row["faces"] += 1
        if any(matches(f, person.box) for f in seen.faces):
            row["found"] += 1
            row["first_frame_sum"] += first_seen.get(k, 0)
        if k != largest:
            continue
        # The largest face is the one the daemon reads (faces.select = "largest").
        row["largest"] += 1
        read = next((p for p in seen.predictions if matches(p.face, person.box)), None)
        if read is not None:
            row["largest_found"] += 1
            row["correct"] += read.emotion == person.photo.label


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_getaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})


def distance_bench(
    config: Config, photos_dir: Path, count: int, seed: int = 7, clutter: int = CLUTTER_ITEMS
) -> dict[str, Any]:
    _pin_to_one_core()
    cv2.setNumThreads(1)
    photos = load_photos(photos_dir, count, config)
    if not photos:
        raise ValueError(f"no usable photos in {photos_dir}")
    hfov = config.camera.hfov_deg
    old_config = config_mod.from_dict(
        {
            "faces": {"reach_m": 0, "verify_model": ""},
            "camera": {"width": OLD_SIZE[0], "height": OLD_SIZE[1]},
        }
    )
    pipelines = {
        "old": (build_perception(old_config), OLD_SIZE),
        "unverified": (build_perception(_unverified(config)), _capture(config)),
        "new": (build_perception(config), _capture(config)),
    }
    frames = pipelines["new"][0].detector.sweep_frames(*_capture(config)) + 2
    log.info(
        "distance bench: %d photos, %d distances, %d frames per scene, %d clutter items",
        len(photos),
        len(DISTANCES_M),
        frames,
        clutter,
    )
    result: dict[str, Any] = {"photos": len(photos), "hfov_deg": hfov, "clutter_items": clutter}
    for name, (perception, size) in pipelines.items():
        per_scene = 1 if name == "old" else frames
        tally = run_pipeline(perception, size, per_scene, photos, hfov, seed, clutter)
        result[name] = {
            "pipeline": perception.detector.name,
            "capture": list(size),
            "frames_per_scene": per_scene,
            **tally.summary(),
        }
    return result


def _capture(config: Config) -> tuple[int, int]:
    return (config.camera.width, config.camera.height)


def _unverified(config: Config) -> Config:
    return msgspec.structs.replace(
        config, faces=msgspec.structs.replace(config.faces, verify_model="")
    )


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in ("old", "unverified", "new"):
        if name not in result:
            continue
        rows = result[name]["by_distance_m"]
        xs = [float(d) for d in rows]
        axes[0].plot(xs, [r["recall"] for r in rows.values()], "o-", label=name)
        axes[1].plot(xs, [r["emotion_acc"] for r in rows.values()], "o-", label=name)
    axes[0].set(title="faces found", xlabel="distance (m)", ylabel="recall", ylim=(0, 1.05))
    axes[1].set(
        title="emotion of the largest face",
        xlabel="distance (m)",
        ylabel="accuracy",
        ylim=(0, 1.05),
    )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def format_table(result: dict[str, Any]) -> str:
    names = [n for n in ("old", "unverified", "new") if n in result]
    lines = [
        f"{'distance':>8} | "
        + " | ".join(
            f"{n + ' recall':>17} {'false/fr':>8} {'still':>6} {'emotion':>7}" for n in names
        )
    ]
    for d in result["new"]["by_distance_m"]:
        cells = []
        for n in names:
            r = result[n]["by_distance_m"][d]
            cells.append(
                f"{r['recall']:>17.2f} {r['false_per_frame']:>8.3f} "
                f"{r['still_false_per_frame']:>6.3f} {r['emotion_acc']:>7.2f}"
            )
        lines.append(f"{d + ' m':>8} | " + " | ".join(cells))
    for n in names:
        r = result[n]
        lines.append(
            f"{n}: {r['pipeline']}, {r['capture'][0]}x{r['capture'][1]}; false faces per frame "
            f"{r['false_per_frame']:.4f} streaming, {r['still_false_per_frame']:.4f} stills; "
            f"whole-frame cost {r['frame_ms_median']:.2f} ms median, p90 {r['frame_ms_p90']:.2f}"
        )
    return "\n".join(lines)


def cli_distance(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    photos = Path(args.photos) if args.photos else DEFAULT_PHOTOS
    result = distance_bench(config, photos, args.count, clutter=args.clutter)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    try:
        plot(result, out.with_suffix(".png"))
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
    print(json.dumps(result) if args.json else format_table(result))
    return 0
