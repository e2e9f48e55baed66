"""`moodpi evaluate --photos DIR`: the emotion model on real photographs, as the camera sees them.

A folder in the lfw-expressions layout (`labels.csv` with `file,emotion`, FER-2013 class names;
files relative to the folder) is read two ways per model:

* **pipeline**: each photo is one camera frame through the configured pipeline (detector, the
  largest face, the crop, the classifier), exactly as `moodpi classify` runs it; a photo in which
  no face is found counts as wrong (`no_face`);
* **whole**: the photo itself is the face box (these photos are face crops of about 250-350 px),
  which separates what the detector's box costs from what the model gets wrong.

`--split val` (default) keeps the person-disjoint validation side that model training never
sees (scripts/model/prep_real_faces.py: sha256 of the person's name mod 100 below 25; the person
is the file name without its number); `train` and `all` are there for comparison only.
Reported: accuracy, balanced accuracy (mean recall), macro-F1, recall per class, confusion,
expected calibration error, and the no-face count.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from moodpi.lab.distance import is_validation_person, person_of
from moodpi.lab.metrics import confusion_matrix, expected_calibration_error
from moodpi.types import EMOTIONS, Frame

log = logging.getLogger(__name__)

EX_NOINPUT = 66
SPLITS = ("val", "train", "all")


@dataclasses.dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    label: int


def load_photos(folder: Path, split: str, limit: int | None = None) -> list[LabelledPhoto]:
    """The labelled photos of one side of the person-disjoint split (sorted by file name)."""
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    table = folder / "labels.csv"
    with table.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    photos = []
    for row in sorted(rows, key=lambda r: r.get("file", "")):
        emotion = (row.get("emotion") or "").strip().lower()
        if emotion not in EMOTIONS or not row.get("file"):
            continue
        in_val = is_validation_person(person_of(row["file"]))
        if split == "all" or in_val == (split == "val"):
            photos.append(LabelledPhoto(folder / row["file"], EMOTIONS.index(emotion)))
    return photos[:limit] if limit else photos


def evaluate_photos(config: Any, model: str, photos: list[LabelledPhoto]) -> dict[str, Any]:
    """Both readings of every photo with one model: `pipeline` and `whole` reports."""
    import cv2

    from moodpi.perception.faces import equalize
    from moodpi.perception.pipeline import build_perception

    config = msgspec.structs.replace(
        config, emotion=msgspec.structs.replace(config.emotion, model=model)
    )
    perception = build_perception(config)
    n = len(EMOTIONS)
    uniform = np.full(n, 1.0 / n, np.float32)
    pipeline_probs, whole_probs, labels, found, unreadable = [], [], [], [], 0
    for photo in photos:
        grey = cv2.imread(str(photo.path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            unreadable += 1
            continue
        seen = perception.observe_still(Frame(image=grey, t=0.0, index=0))
        found.append(bool(seen.predictions))
        pipeline_probs.append(seen.predictions[0].probs if seen.predictions else uniform)
        whole = equalize(grey, config.faces.equalize)
        whole_probs.append(perception.classifier.classify(whole))
        labels.append(photo.label)
    y = np.asarray(labels, np.int64)
    pipeline = _report(np.asarray(pipeline_probs), y, np.asarray(found, bool))
    return {
        "model": model,
        "photos": len(labels),
        "unreadable": unreadable,
        "pipeline": pipeline,
        "whole": _report(np.asarray(whole_probs), y),
    }


def _report(probs: np.ndarray, y: np.ndarray, found: np.ndarray | None = None) -> dict[str, Any]:
    """Metrics where a photo without a face (found False) counts as wrong for its class."""
    n = len(EMOTIONS)
    if len(y) == 0:
        return {"faces": 0, "no_face": 0, "accuracy": 0.0}
    found = np.ones(len(y), bool) if found is None else found
    pred = np.argmax(probs, axis=1)
    confusion = confusion_matrix(y[found], pred[found], n)
    missed = np.bincount(y[~found], minlength=n)
    support = confusion.sum(axis=1) + missed
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(n), where=both > 0)
    present = support > 0
    return {
        "faces": len(y),
        "no_face": int((~found).sum()),
        "accuracy": round(float(tp.sum() / len(y)), 4),
        "balanced_accuracy": round(float(recall[present].mean()), 4),
        "macro_f1": round(float(f1[present].mean()), 4),
        "ece": round(expected_calibration_error(probs[found], y[found]), 4) if found.any() else 0.0,
        "recall": {e: round(float(r), 3) for e, r in zip(EMOTIONS, recall, strict=True)},
        "support": {e: int(c) for e, c in zip(EMOTIONS, support, strict=True)},
        "confusion": confusion.tolist(),
    }


def format_photos_report(reports: list[dict[str, Any]], split: str) -> str:
    lines = [f"real photos ({split} side of the person-disjoint split)"]
    head = f"{'model':<28} {'reading':<9} {'acc':>6} {'bal':>6} {'F1':>6} {'ECE':>6} {'no face':>8}"
    lines.append(head)
    for r in reports:
        for reading in ("pipeline", "whole"):
            m = r[reading]
            lines.append(
                f"{r['model']:<28} {reading:<9} {m['accuracy']:>6.3f} "
                f"{m['balanced_accuracy']:>6.3f} {m['macro_f1']:>6.3f} {m['ece']:>6.3f} "
                f"{m['no_face']:>8d}"
            )
        recall = "  ".join(f"{e} {v:.2f}" for e, v in r["pipeline"]["recall"].items())
        lines.append(f"  pipeline recall: {recall}")
    return "\n".join(lines) + "\n"


def cli_evaluate_photos(args: argparse.Namespace, config: Any) -> int:
    folder = Path(args.photos)
    try:
        photos = load_photos(folder, args.split, args.limit)
    except (OSError, ValueError, csv.Error) as exc:
        log.error("evaluate --photos: %s", exc)
        return EX_NOINPUT
    if not photos:
        log.error("evaluate --photos: no labelled photos in %s (%s side)", folder, args.split)
        return EX_NOINPUT
    names = [args.model or config.emotion.model, *(getattr(args, "compare", None) or [])]
    reports = [evaluate_photos(config, name, photos) for name in names]
    if args.json:
        out: Any = reports[0] if len(reports) == 1 else {"models": reports}
        json.dump({"split": args.split, **out} if len(reports) == 1 else out, sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_photos_report(reports, args.split))
    return 0
