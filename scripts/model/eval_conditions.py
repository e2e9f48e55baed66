"""Emotion models under camera conditions: FER-2013 PublicTest faces degraded as a camera would.

Runs in the project venv through the runtime's own classifier (single face, the sidecar's
temperature), several models side by side on the same degraded faces (issue 20's conditions):

- clean; Gaussian blur sigma 1 and 2 (optics, focus);
- a far face: area-shrunk to 24 or 16 px and enlarged again;
- dark x0.4 with sensor noise sigma 8 and JPEG quality 30 together (a dim room);
- detector-like crop jitter: shifts up to 10 % and scales 0.85-1.2 (seeded);
- rotation by +15 and -15 degrees (mean of the two); brightness x0.4 and x1.6.

Each condition is scored twice: against FER-2013's own label (every face) and against FER+'s
clear majority (the faces ten people clearly agree on, labelled by that majority; issue 28), from
the votes in ../shared/data/ferplus beside the faces (`--votes`; `--votes none` leaves them out).

`--equalize` also measures the pipeline's lighting normalisations (`faces.equalize`), each
applied to every degraded face as the pipeline applies it to a face crop.

    .venv/bin/python scripts/model/eval_conditions.py emotion_v11_int8.tflite \
        retired/emotion_v10_int8.tflite retired/emotion_int8.tflite --out bench/conditions.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from moodpi.lab import metrics
from moodpi.lab.evaluate import model_file
from moodpi.lab.fer.votes import npz_majority
from moodpi.perception.classify.emotion import EmotionClassifier
from moodpi.perception.crop import equalize
from moodpi.types import EMOTIONS

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "fer2013" / "public_test.npz"
VOTES = ROOT.parent / "shared" / "data" / "ferplus" / "public_test.npz"
Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def blur(sigma: float) -> Degrade:
    return lambda f, _: cv2.GaussianBlur(f, (0, 0), sigma)


def shrink(px: int) -> Degrade:
    def far(f: np.ndarray, _: np.random.Generator) -> np.ndarray:
        small = cv2.resize(f, (px, px), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, f.shape[::-1], interpolation=cv2.INTER_LINEAR)

    return far


def dark_noise_jpeg(f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = f.astype(np.float32) * 0.4 + rng.normal(0.0, 8.0, f.shape)
    ok, buf = cv2.imencode(
        ".jpg", np.clip(noisy, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 30]
    )
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def jitter(f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = f.shape
    scale = float(rng.uniform(0.85, 1.2))
    dx, dy = rng.uniform(-0.1, 0.1, 2) * w
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, scale)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def rotate(deg: float) -> Degrade:
    def turned(f: np.ndarray, _: np.random.Generator) -> np.ndarray:
        h, w = f.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
        return cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REPLICATE)

    return turned


def gain(k: float) -> Degrade:
    return lambda f, _: np.clip(f.astype(np.float32) * k, 0, 255).astype(np.uint8)


CONDITIONS: dict[str, Degrade] = {
    "clean": lambda f, _: f,
    "blur_s1": blur(1.0),
    "blur_s2": blur(2.0),
    "far_24px": shrink(24),
    "far_16px": shrink(16),
    "dark_noise_jpeg": dark_noise_jpeg,
    "crop_jitter": jitter,
    "rotate_+15": rotate(15.0),
    "rotate_-15": rotate(-15.0),
    "bright_x0.4": gain(0.4),
    "bright_x1.6": gain(1.6),
}


def degraded_sets(images: np.ndarray, seed: int = 20) -> dict[str, list[np.ndarray]]:
    """Every condition's faces, made once, so all models see the same pixels."""
    out = {}
    for i, (name, degrade) in enumerate(CONDITIONS.items()):
        rng = np.random.default_rng([seed, i])
        out[name] = [degrade(face, rng) for face in images]
    return out


def readings(classifier: EmotionClassifier, faces: list[np.ndarray]) -> np.ndarray:
    """The class index each face is read as, in EMOTIONS order."""
    to_fer = [EMOTIONS.index(label) for label in classifier.labels]
    return np.array([to_fer[int(np.argmax(classifier.classify(f)))] for f in faces])


def scores(read: np.ndarray, labels: np.ndarray, majority: np.ndarray | None) -> dict[str, float]:
    """Accuracy against the original labels and, with votes, against the clear FER+ majority."""
    out = {"original": metrics.accuracy(labels, read)}
    if majority is not None:
        clear = majority >= 0
        out["majority"] = metrics.accuracy(majority[clear], read[clear])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="model files, or names in the models dir")
    p.add_argument("--limit", type=int, default=0, help="first N faces only (0: all 3,589)")
    p.add_argument("--out", type=Path, help="also write the table as JSON")
    p.add_argument(
        "--votes",
        help=f"FER+'s votes for the faces, row by row (default: {VOTES} when there; none: "
        "no majority scores)",
    )
    p.add_argument(
        "--equalize",
        nargs="+",
        default=["none"],
        choices=("none", "hist", "clahe", "stretch"),
        help="faces.equalize modes, each applied to every degraded face as the pipeline applies "
        "it to a crop (a column per model and mode; 'none' is the plain model name)",
    )
    p.add_argument(
        "--flip",
        action="store_true",
        help="read each face and its mirror and average them, as emotion.flip_average = true does",
    )
    a = p.parse_args(argv)
    data = np.load(DATA)
    images, labels = data["images"], data["labels"]
    majority = None
    if a.votes != "none" and (a.votes or VOTES.is_file()):
        votes = Path(a.votes or VOTES)
        names = data["names"].astype(str).tolist() if "names" in data.files else None
        majority = npz_majority(votes, names, len(images), DATA.name)
    if a.limit:
        images, labels = images[: a.limit], labels[: a.limit]
        majority = None if majority is None else majority[: a.limit]
    sets = degraded_sets(images)
    tables: dict[str, dict[str, dict[str, float]]] = {"original": {}, "majority": {}}
    for name in a.models:
        path = model_file(name)
        classifier = EmotionClassifier.from_file(path, flip_average=a.flip)
        for mode in a.equalize:
            column = path.name if mode == "none" else f"{path.name}+{mode}"
            for cond, faces in sets.items():
                read = readings(classifier, [equalize(x, mode) for x in faces])
                for kind, value in scores(read, labels, majority).items():
                    tables[kind].setdefault(column, {})[cond] = round(value, 4)
            for table in tables.values():
                if column in table:
                    turned = (table[column]["rotate_+15"] + table[column]["rotate_-15"]) / 2
                    table[column]["rotate_15_mean"] = round(turned, 4)
    for kind, table in tables.items():
        if table:
            print(TITLES[kind])
            print_table(table)
    if a.out:
        out: dict[str, object] = {
            "faces": len(labels),
            "flip_average": a.flip,
            "accuracy": tables["original"],
        }
        if majority is not None:
            out |= {
                "votes": os.path.relpath(a.votes or VOTES, ROOT),
                "majority_faces": int((majority >= 0).sum()),
                "majority_accuracy": tables["majority"],
            }
        a.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


TITLES = {
    "original": "accuracy against FER-2013's own labels (every face)",
    "majority": "accuracy against FER+'s clear majority (the faces ten people agree on)",
}


def print_table(table: dict[str, dict[str, float]]) -> None:
    names = list(table)
    print(f"{'condition':<18}" + "".join(f"{n[:24]:>26}" for n in names))
    for cond in [*CONDITIONS, "rotate_15_mean"]:
        print(f"{cond:<18}" + "".join(f"{table[n][cond]:>26.3f}" for n in names))


if __name__ == "__main__":
    sys.exit(main())
