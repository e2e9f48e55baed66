"""`moodpi bench --distance`: can the pipeline see and read faces across a room?

Real photographs (lfw-expressions, the validation persons of the person-disjoint split that
scripts/model/prep_real_faces.py uses, so a model trained on the other side is not flattered)
are composed into camera frames the way a lens of `camera.hfov_deg` sees a person at distance d:
the face box (0.15 m) is `W * 0.15 / (2 d tan(hfov / 2))` pixels wide in a frame W pixels wide.
Each photo is blended into a room-like backdrop with a feathered edge (no square outline to
help a detector); one scene in three holds a second person at another distance.

Two pipelines, side by side in one run, on the same photos and distances:
* **old**: one whole-frame BlazeFace pass on a 640x480 frame (faces.reach_m = 0), as shipped
  before room-scale sight;
* **new**: the configured pipeline (default: RoomDetector on 1280x720). A stream is shown the
  scene for one sweep of frames, as a person who sits down for a few seconds; recall counts the
  faces reported in the last frame. Frames to first detection are reported too.

Per distance: recall, false faces per frame, and the emotion accuracy of the largest face
(the label of the photo against the prediction; `acc_found` only over scenes where it was
found). Whole-frame cost (colour conversion + detection + classification) is timed on one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodpi import config as config_mod
from moodpi.config import Config
from moodpi.lab import evaluate_photos
from moodpi.lab.evaluate_photos import LabelledPhoto
from moodpi.lab.replaygen import make_background
from moodpi.perception.detect.geometry import face_width_px
from moodpi.perception.detect.whole_frame import WholeFrameDetector
from moodpi.perception.pipeline import Perception, build_perception
from moodpi.types import EMOTIONS, Face, Frame, Observation

log = logging.getLogger(__name__)

DISTANCES_M = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
OLD_SIZE = (640, 480)
DEFAULT_PHOTOS = Path(__file__).resolve().parents[3].parent / "shared/data/lfw-expressions"


@dataclasses.dataclass(frozen=True)
class Photo:
    image: np.ndarray  # (H, W) uint8
    box: Face  # the face in the photo (short-range BlazeFace on the photo itself)
    label: str


@dataclasses.dataclass(frozen=True)
class Person:
    photo: Photo
    distance_m: float
    box: tuple[float, float, float, float]  # x, y, w, h of the face in the frame


def load_photos(folder: Path, count: int, config: Config) -> list[Photo]:
    """News photos (350x350) of validation persons with a face the detector finds up close, in
    an order that mixes persons and classes (by the hash of the file's name in labels.csv)."""
    reference = WholeFrameDetector(config.model_path(config.faces.model))

    def shuffled(photo: LabelledPhoto) -> bytes:
        return hashlib.sha256(photo.path.relative_to(folder).as_posix().encode()).digest()

    photos: list[Photo] = []
    for labelled in sorted(evaluate_photos.load_photos(folder, "val"), key=shuffled):
        if len(photos) >= count:
            break
        path = labelled.path
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
        if image is None or image.shape != (350, 350):
            continue  # film-frame crops fill the whole image: no room around the face
        found = reference.detect(image)
        if found:
            photos.append(Photo(image, max(found, key=lambda b: b.area), EMOTIONS[labelled.label]))
    return photos


def compose_scene(
    people: Sequence[tuple[Photo, float]],
    size: tuple[int, int],
    hfov_deg: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[Person]]:
    """A (H, W) frame with each photo scaled so its face is as wide as at its distance."""
    w, h = size
    canvas = make_background(size, rng).astype(np.float32)
    placed: list[Person] = []
    slots = np.linspace(0.15, 0.85, len(people) + 2)[1:-1] if len(people) > 1 else [None]
    for (photo, distance), slot in zip(people, slots, strict=True):
        scale = face_width_px(distance, w, hfov_deg) / photo.box.w
        side = max(4, round(photo.image.shape[1] * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        patch = cv2.resize(photo.image, (side, side), interpolation=interp).astype(np.float32)
        centre_x = rng.uniform(0.1, 0.9) if slot is None else float(slot)
        x0 = int(np.clip(centre_x * w - side / 2, 0, max(0, w - side)))
        y0 = int(np.clip(rng.uniform(0.25, 0.6) * h - side / 2, 0, max(0, h - side)))
        _blend(canvas, patch, x0, y0)
        b = photo.box
        placed.append(
            Person(photo, distance, (x0 + b.x * scale, y0 + b.y * scale, b.w * scale, b.h * scale))
        )
    canvas += rng.normal(0.0, 2.0, canvas.shape).astype(np.float32)  # sensor noise
    return np.clip(canvas, 0, 255).astype(np.uint8), placed


def _blend(canvas: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    side = patch.shape[0]
    mask = np.zeros((side, side), np.float32)
    r = side / 2
    cv2.ellipse(
        mask, (round(r), round(r)), (round(0.48 * side), round(0.5 * side)), 0, 0, 360, 1.0, -1
    )
    alpha = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.05 * side))  # feathered: no hard edge
    h, w = canvas.shape
    ph, pw = min(side, h - y0), min(side, w - x0)
    region = canvas[y0 : y0 + ph, x0 : x0 + pw]
    region += alpha[:ph, :pw] * (patch[:ph, :pw] - region)


def matches(face: Face, box: tuple[float, float, float, float]) -> bool:
    """The detection is this person's face: centres within half a face, sizes within 2x."""
    x, y, w, h = box
    dx = abs(face.x + face.w / 2 - (x + w / 2))
    dy = abs(face.y + face.h / 2 - (y + h / 2))
    return dx < w / 2 and dy < h / 2 and 0.5 < face.w / w < 2.0


def scenes(photos: Sequence[Photo], seed: int) -> Iterator[list[tuple[Photo, float]]]:
    """For each distance and photo one scene; every third one with a second person."""
    rng = np.random.default_rng(seed)
    for distance in DISTANCES_M:
        for i, photo in enumerate(photos):
            people = [(photo, distance)]
            if i % 3 == 2:
                other = photos[(i * 7 + 3) % len(photos)]
                people.append((other, float(rng.choice(DISTANCES_M))))
            yield people


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
                "emotion_acc": round(r["correct"] / max(r["largest"], 1), 3),
                "emotion_acc_found": round(r["correct"] / max(r["largest_found"], 1), 3),
                "first_frame_mean": round(r["first_frame_sum"] / max(r["found"], 1), 1),
                "faces": int(r["faces"]),
            }
        ms = np.asarray(self.frame_ms or [0.0])
        return {
            "by_distance_m": out,
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
) -> Tally:
    tally = Tally()
    rng = np.random.default_rng(seed)
    for people in scenes(photos, seed):
        grey, placed = compose_scene(people, size, hfov_deg, rng)
        bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)  # a camera gives colour: convert each frame
        reset = getattr(perception.detector, "reset", None)
        if callable(reset):
            reset()
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


def distance_bench(config: Config, photos_dir: Path, count: int, seed: int = 7) -> dict[str, Any]:
    _pin_to_one_core()
    cv2.setNumThreads(1)
    photos = load_photos(photos_dir, count, config)
    if not photos:
        raise ValueError(f"no usable photos in {photos_dir}")
    hfov = config.camera.hfov_deg
    old_config = config_mod.from_dict(
        {"faces": {"reach_m": 0}, "camera": {"width": OLD_SIZE[0], "height": OLD_SIZE[1]}}
    )
    old = build_perception(old_config)
    new = build_perception(config)
    new_size = (config.camera.width, config.camera.height)
    sweep = getattr(new.detector, "sweep_frames", None)
    frames = int(sweep(*new_size)) + 2 if callable(sweep) else 1
    log.info(
        "distance bench: %d photos, %d distances, %d frames per scene",
        len(photos),
        len(DISTANCES_M),
        frames,
    )
    result_old = run_pipeline(old, OLD_SIZE, 1, photos, hfov, seed)
    result_new = run_pipeline(new, new_size, frames, photos, hfov, seed)
    return {
        "photos": len(photos),
        "hfov_deg": hfov,
        "old": {
            "pipeline": "BlazeFace short-range, one whole-frame pass",
            "capture": list(OLD_SIZE),
            **result_old.summary(),
        },
        "new": {
            "pipeline": type(new.detector).__name__,
            "capture": list(new_size),
            "frames_per_scene": frames,
            **result_new.summary(),
        },
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in ("old", "new"):
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
    lines = [
        f"{'distance':>8} | {'old recall':>10} {'false/fr':>8} {'emotion':>7} | "
        f"{'new recall':>10} {'false/fr':>8} {'emotion':>7} {'1st frame':>9}"
    ]
    old, new = result["old"]["by_distance_m"], result["new"]["by_distance_m"]
    for d in old:
        o, n = old[d], new[d]
        lines.append(
            f"{d + ' m':>8} | {o['recall']:>10.2f} {o['false_per_frame']:>8.3f} "
            f"{o['emotion_acc']:>7.2f} | {n['recall']:>10.2f} "
            f"{n['false_per_frame']:>8.3f} {n['emotion_acc']:>7.2f} "
            f"{n['first_frame_mean']:>9.1f}"
        )
    lines.append(
        f"whole-frame cost on one core: old {result['old']['frame_ms_median']:.2f} ms "
        f"median ({OLD_SIZE[0]}x{OLD_SIZE[1]}), new {result['new']['frame_ms_median']:.2f}"
        f" ms median, p90 {result['new']['frame_ms_p90']:.2f} "
        f"({result['new']['capture'][0]}x{result['new']['capture'][1]})"
    )
    return "\n".join(lines)


def cli_distance(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    photos = Path(args.photos) if args.photos else DEFAULT_PHOTOS
    result = distance_bench(config, photos, args.count)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    try:
        plot(result, out.with_suffix(".png"))
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
    print(json.dumps(result) if args.json else format_table(result))
    return 0
