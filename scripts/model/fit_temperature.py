"""Fit an int8 emotion model's softmax temperature on real camera-like faces, not only FER crops.

`eval_emotion_model.py` fits the sidecar's temperature on FER-2013 PublicTest. A model trained on
camera-domain faces is less confident on real photographs than it is right (v11: ECE 0.079 on
the real validation photos with PublicTest's temperature), and the daemon's mood smoothing and
thresholds read those confidences. This script fits the temperature where the camera is:

* **calib**: the persons of lfw-expressions whose name hash falls in
  [val_percent, val_percent + calib_percent) (`train_model.py --real-calib-percent`: left out of
  training, so their faces are as unseen as the validation side's);
* each photo goes through moodpi's own still-image pipeline (room detector, largest face, crop,
  classifier at T = 1), exactly as `moodpi evaluate --photos` reads it;
* the validation side (name hash below val_percent) is only reported, never fitted on.

It prints ECE and NLL on calib, the validation photos and PublicTest at PublicTest's
temperature, at calib's and at a joint fit (mean of the two domains' NLLs: the camera's faces
and FER-2013's), and with `--write` puts the joint temperature into the sidecar (`temperature`,
with the whole fit under `metrics.temperature_fit`). With `--votes DIR` (FER+, issue 28: for
models taught by the votes) PublicTest's NLL is the cross-entropy against each face's vote
distribution over the seven classes (faces whose votes are mostly unknown, not-a-face or
contempt left out, as in training) and its ECE is scored against the clear majority: the
temperature is fitted against what ten people saw. Every face is read in the mode the sidecar
names (`flip_average`: each face and its mirror averaged, or single). Runs in the runtime venv:

    .venv/bin/python scripts/model/fit_temperature.py emotion_v13_int8.tflite --calib-percent 10
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "model"))

from prep_real_faces import LABELS, is_val_person, person_of  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("model", help="model file name in models/")
    p.add_argument("--real-photos", type=Path, default=SHARED / "lfw-expressions")
    p.add_argument("--public-test", type=Path, default=SHARED / "fer2013" / "public_test.npz")
    p.add_argument(
        "--votes", type=Path, help="FER+ votes folder (public_test.npz): fit PublicTest on them"
    )
    p.add_argument("--val-percent", type=int, default=25)
    p.add_argument(
        "--calib-percent",
        type=int,
        required=True,
        help="as given to train_model.py --real-calib-percent",
    )
    p.add_argument(
        "--write", action="store_true", help="store the joint temperature in the sidecar"
    )
    return p.parse_args(argv)


def split_photos(a: argparse.Namespace) -> dict[str, list[tuple[Path, int]]]:
    sides: dict[str, list[tuple[Path, int]]] = {"calib": [], "val": []}
    with (a.real_photos / "labels.csv").open(newline="", encoding="utf-8") as f:
        for row in sorted(csv.DictReader(f), key=lambda r: r["file"]):
            label = row["emotion"].strip().lower()
            if label not in LABELS:
                continue
            person = person_of(row["file"])
            if is_val_person(person, a.val_percent):
                sides["val"].append((a.real_photos / row["file"], LABELS.index(label)))
            elif is_val_person(person, a.val_percent + a.calib_percent):
                sides["calib"].append((a.real_photos / row["file"], LABELS.index(label)))
    return sides


def pipeline_logits(
    model: str, photos: list[tuple[Path, int]], flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (T = 1) of the largest face of each photo in which the pipeline finds one."""
    import cv2
    import msgspec

    from moodpi.config import Config
    from moodpi.perception.classify.emotion import EmotionClassifier
    from moodpi.perception.pipeline import build_perception
    from moodpi.types import Frame

    config = Config()
    config = msgspec.structs.replace(
        config, emotion=msgspec.structs.replace(config.emotion, model=model, flip_average=flip)
    )
    perception = build_perception(config)
    perception.classifier = EmotionClassifier.from_file(
        config.model_path(model), flip_average=config.emotion.flip_average, temperature=1.0
    )
    logits, labels = [], []
    for path, label in photos:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        seen = perception.observe_still(Frame(image=grey, t=0.0, index=0))
        if seen.predictions:  # the logits up to a constant, which softmax ignores
            logits.append(np.log(np.maximum(seen.predictions[0].probs, 1e-12)))
            labels.append(label)
    return np.asarray(logits, np.float64), np.asarray(labels, np.int64)


def public_test_logits(model: str, path: Path, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    from moodpi.config import Config
    from moodpi.perception.classify.emotion import EmotionClassifier

    config = Config()
    classifier = EmotionClassifier.from_file(
        config.model_path(model), flip_average=flip, temperature=1.0
    )
    with np.load(path) as z:
        faces, labels = z["images"], z["labels"].astype(np.int64)
    probs = np.stack([classifier.classify(face) for face in faces])
    return np.log(np.maximum(probs, 1e-12)), labels


# FER+ vote columns (neutral, happiness, surprise, sadness, anger, disgust, fear) in FER order
FERPLUS_TO_FER = (6, 3, 5, 4, 0, 1, 2)


def vote_targets(votes_dir: Path, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, (N, 7) vote distributions) of PublicTest from FER+, as train_model.py builds
    them: single votes dropped, faces mostly unknown / not-a-face / contempt left out."""
    with np.load(votes_dir / "public_test.npz") as z:
        votes, matched = z["votes"], z["matched"]
    if len(votes) != len(labels):
        raise SystemExit(f"{votes_dir}: {len(votes)} rows of votes for {len(labels)} faces")
    v = np.where(votes >= 2, votes, 0).astype(np.float64)
    seven = np.zeros((len(v), 7))
    seven[:, list(FERPLUS_TO_FER)] = v[:, :7]
    keep = matched & (seven.sum(axis=1) * 2 > v.sum(axis=1)) & (v.sum(axis=1) > 0)
    return keep, seven / np.maximum(seven.sum(axis=1, keepdims=True), 1e-9)


def nll(z: np.ndarray, y: np.ndarray, t: float) -> float:
    """Mean negative log-likelihood of labels (N,) or cross-entropy against distributions (N, 7)."""
    x = z / t
    x = x - x.max(axis=1, keepdims=True)
    log_p = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    if y.ndim == 2:
        return float(-(y * log_p).sum(axis=1).mean())
    return float(-log_p[np.arange(len(y)), y].mean())


def fit(domains: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The temperature minimising the mean of the domains' NLLs (golden-section on log T)."""
    from moodpi.lab.metrics import golden_section

    def cost(u: float) -> float:
        return float(np.mean([nll(z, y, float(np.exp(u))) for z, y in domains]))

    return float(np.exp(golden_section(cost, float(np.log(0.2)), float(np.log(5.0)), steps=60)))


def ece(z: np.ndarray, y: np.ndarray, t: float, bins: int = 15) -> float:
    from moodpi.lab.metrics import expected_calibration_error

    if y.ndim == 2:  # vote distributions: calibration against the clear majority
        clear = y.max(axis=1) > 0.5
        z, y = z[clear], y[clear].argmax(axis=1)
    x = z / t
    p = np.exp(x - x.max(axis=1, keepdims=True))
    return float(expected_calibration_error(p / p.sum(axis=1, keepdims=True), y, bins))


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    sidecar_path = (ROOT / "models" / a.model).with_suffix(".json")
    sidecar = json.loads(sidecar_path.read_text())
    sides = split_photos(a)
    flip = bool(sidecar.get("flip_average", False))  # fitted in the mode the model runs in
    data = {name: pipeline_logits(a.model, photos, flip) for name, photos in sides.items()}
    data["public_test"] = public_test_logits(a.model, a.public_test, flip)
    if a.votes:
        z, labels = data["public_test"]
        keep, targets = vote_targets(a.votes, labels)
        data["public_test"] = (z[keep], targets[keep])
    temps = {
        "public_test": float(
            sidecar["metrics"].get("temperature_flip" if flip else "temperature_single")
            or sidecar["temperature"]
        ),
        "calib": fit([data["calib"]]),
        "joint": fit([data["calib"], data["public_test"]]),
    }
    report: dict = {
        "model": a.model,
        "flip_average": flip,
        "faces": {k: len(v[1]) for k, v in data.items()},
        "calib_persons_percent": [a.val_percent, a.val_percent + a.calib_percent],
    }
    for fitted_on, t in temps.items():
        report[f"T_{fitted_on}"] = {
            "temperature": round(t, 4),
            **{f"ece_{k}": round(ece(z, y, t), 4) for k, (z, y) in data.items()},
            **{f"nll_{k}": round(nll(z, y, t), 4) for k, (z, y) in data.items()},
        }
    print(json.dumps(report, indent=1))
    if a.write:
        sidecar["temperature"] = round(temps["joint"], 4)
        sidecar["source"] = sidecar["source"].replace(
            "calibrated on PublicTest",
            f"its temperature fitted on PublicTest and on the {len(data['calib'][1])} runtime-cut "
            "faces of lfw-expressions persons held out of training, weighted alike "
            "(scripts/model/fit_temperature.py)",
        )
        sidecar["metrics"]["temperature_fit"] = report
        sidecar_path.write_text(json.dumps(sidecar, indent=1) + "\n")
        print(f"wrote T = {sidecar['temperature']} (joint fit) to {sidecar_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
