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
expected calibration error, the no-face count, and how many persons carry each class. The three
headline scores get 95 % intervals from resampling whole persons (a class carried by one person
is one draw, however many photos it has), and `--compare` models get their difference from the
first model with a paired interval. docs/evaluate.md is the JSON contract.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from moodpi.lab.metrics import (
    class_scores,
    confusion_matrix,
    expected_calibration_error,
    headline_scores,
    interval95,
    person_resamples,
)
from moodpi.types import EMOTIONS, Frame

log = logging.getLogger(__name__)

EX_NOINPUT = 66
SPLITS = ("val", "train", "all")
READINGS = ("pipeline", "whole")
HEADLINE = ("accuracy", "balanced_accuracy", "macro_f1")
RESAMPLES = 1000
VAL_PERCENT = 25  # the validation side of scripts/model/prep_real_faces.py's split


def person_of(file_name: str) -> str:
    """`Abdel_Nasser_Assidi_0002.jpg` -> `Abdel_Nasser_Assidi`; `Dileep_107.jpg` -> `Dileep`."""
    stem = Path(file_name).stem
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def is_validation_person(person: str) -> bool:
    """sha256's first 8 bytes mod 100 below VAL_PERCENT: by the name alone, as training splits."""
    digest = hashlib.sha256(person.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < VAL_PERCENT


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


@dataclasses.dataclass(frozen=True)
class PhotoReadings:
    """One model's two readings of a photo set, a row per readable photo in file order."""

    model: str
    labels: np.ndarray
    persons: np.ndarray
    unreadable: int
    found: np.ndarray  # the pipeline found a face
    probs: dict[str, np.ndarray]  # reading → probabilities (uniform where no face was found)

    def predictions(self, reading: str) -> np.ndarray:
        """Top-1 class per photo; -1 where the pipeline found no face."""
        pred = np.argmax(self.probs[reading], axis=1)
        return np.where(self.found, pred, -1) if reading == "pipeline" else pred


def read_photos(config: Any, model: str, photos: list[LabelledPhoto]) -> PhotoReadings:
    """Both readings of every photo with one model."""
    import cv2

    from moodpi.perception.crop import equalize
    from moodpi.perception.pipeline import build_perception

    config = msgspec.structs.replace(
        config, emotion=msgspec.structs.replace(config.emotion, model=model)
    )
    perception = build_perception(config)
    n = len(EMOTIONS)
    uniform = np.full(n, 1.0 / n, np.float32)
    pipeline_probs, whole_probs, labels, persons, found = [], [], [], [], []
    unreadable = 0
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
        persons.append(person_of(photo.path.name))
    empty = np.zeros((0, n), np.float32)
    return PhotoReadings(
        model,
        np.asarray(labels, np.int64),
        np.asarray(persons, dtype=str),
        unreadable,
        np.asarray(found, bool),
        {
            "pipeline": np.asarray(pipeline_probs) if labels else empty,
            "whole": np.asarray(whole_probs) if labels else empty,
        },
    )


def evaluate_photos(config: Any, model: str, photos: list[LabelledPhoto]) -> dict[str, Any]:
    """Both readings of every photo with one model: `pipeline` and `whole` reports."""
    return photos_report(read_photos(config, model, photos))


def photos_report(readings: PhotoReadings, resamples: int = RESAMPLES) -> dict[str, Any]:
    """Both readings' metrics, each headline score with its 95 % interval over persons."""
    y, persons = readings.labels, readings.persons
    draws = person_resamples(persons, resamples) if len(y) else []
    reports = {}
    for reading in READINGS:
        found = readings.found if reading == "pipeline" else None
        report = _report(readings.probs[reading], y, found, persons)
        if draws:
            pred = readings.predictions(reading)
            scores = [headline_scores(y[d], pred[d], len(EMOTIONS)) for d in draws]
            bounds = interval95(np.asarray(scores))
            report["interval95"] = {
                name: [round(float(bounds[0, k]), 4), round(float(bounds[1, k]), 4)]
                for k, name in enumerate(HEADLINE)
            }
        reports[reading] = report
    return {
        "model": readings.model,
        "photos": len(y),
        "persons": len(set(persons.tolist())),
        "unreadable": readings.unreadable,
        **reports,
    }


def paired_difference(
    first: PhotoReadings, other: PhotoReadings, resamples: int = RESAMPLES
) -> dict[str, Any]:
    """`other` minus `first` on the headline scores, each with a paired 95 % interval."""
    y = first.labels
    if not np.array_equal(y, other.labels) or not len(y):
        raise ValueError("models compared on different photos")
    draws = person_resamples(first.persons, resamples)
    out: dict[str, Any] = {"model": other.model, "versus": first.model}
    for reading in READINGS:
        a, b = first.predictions(reading), other.predictions(reading)
        n = len(EMOTIONS)
        delta = headline_scores(y, b, n) - headline_scores(y, a, n)
        spread = [headline_scores(y[d], b[d], n) - headline_scores(y[d], a[d], n) for d in draws]
        bounds = interval95(np.asarray(spread))
        out[reading] = {
            name: [
                round(float(delta[k]), 4),
                round(float(bounds[0, k]), 4),
                round(float(bounds[1, k]), 4),
            ]
            for k, name in enumerate(HEADLINE)
        }
    return out


def _report(
    probs: np.ndarray,
    y: np.ndarray,
    found: np.ndarray | None = None,
    persons: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics where a photo without a face (found False) counts as wrong for its class."""
    n = len(EMOTIONS)
    if len(y) == 0:
        return {"faces": 0, "no_face": 0, "accuracy": 0.0}
    found = np.ones(len(y), bool) if found is None else found
    pred = np.argmax(probs, axis=1)
    confusion = confusion_matrix(y[found], pred[found], n)
    _, recall, f1, support = class_scores(confusion, np.bincount(y[~found], minlength=n))
    present = support > 0
    report = {
        "faces": len(y),
        "no_face": int((~found).sum()),
        "accuracy": round(float(np.trace(confusion) / len(y)), 4),
        "balanced_accuracy": round(float(recall[present].mean()), 4),
        "macro_f1": round(float(f1[present].mean()), 4),
        "ece": round(expected_calibration_error(probs[found], y[found]), 4) if found.any() else 0.0,
        "recall": {e: round(float(r), 3) for e, r in zip(EMOTIONS, recall, strict=True)},
        "support": {e: int(c) for e, c in zip(EMOTIONS, support, strict=True)},
        "confusion": confusion.tolist(),
    }
    if persons is not None:
        report.update(_who_carries_each_class(y, persons))
        report["recall_per_person"] = _recall_per_person(y, np.where(found, pred, -1), persons)
    return report


def _recall_per_person(y: np.ndarray, pred: np.ndarray, persons: np.ndarray) -> dict[str, float]:
    """Per class, the mean over its persons of each one's recall: a class whose photos are mostly
    one person's (lfw-expressions' sad: one actor's film frames) is then not that person's score."""
    out: dict[str, float] = {}
    for k, emotion in enumerate(EMOTIONS):
        mine = y == k
        who = np.unique(persons[mine])
        scores = [float((pred[mine & (persons == p)] == k).mean()) for p in who]
        out[emotion] = round(float(np.mean(scores)), 3) if scores else 0.0
    return out


def _who_carries_each_class(y: np.ndarray, persons: np.ndarray) -> dict[str, Any]:
    """Distinct persons per class and the share of its photos that its most frequent one has."""
    carriers: dict[str, int] = {}
    largest: dict[str, float] = {}
    for k, emotion in enumerate(EMOTIONS):
        names, counts = np.unique(persons[y == k], return_counts=True)
        carriers[emotion] = len(names)
        largest[emotion] = round(float(counts.max() / counts.sum()), 3) if len(names) else 0.0
    return {"persons": carriers, "largest_person_share": largest}


def format_photos_report(
    reports: list[dict[str, Any]], split: str, differences: list[dict[str, Any]] | None = None
) -> str:
    lines = [f"real photos ({split} side of the person-disjoint split)"]
    head = f"{'model':<28} {'reading':<9} {'acc':>6} {'bal':>6} {'F1':>6} {'ECE':>6} {'no face':>8}"
    lines.append(head)
    for r in reports:
        for reading in READINGS:
            m = r[reading]
            lines.append(
                f"{r['model']:<28} {reading:<9} {m['accuracy']:>6.3f} "
                f"{m['balanced_accuracy']:>6.3f} {m['macro_f1']:>6.3f} {m['ece']:>6.3f} "
                f"{m['no_face']:>8d}"
            )
        pipeline = r["pipeline"]
        if "interval95" in pipeline:
            spans = "  ".join(
                f"{name} [{lo:.3f}, {hi:.3f}]" for name, (lo, hi) in pipeline["interval95"].items()
            )
            lines.append(f"  pipeline 95 % (persons resampled): {spans}")
        recall = "  ".join(f"{e} {v:.2f}" for e, v in pipeline["recall"].items())
        lines.append(f"  pipeline recall: {recall}")
        if "persons" in pipeline:
            carried = "  ".join(
                f"{e} {pipeline['persons'][e]} ({pipeline['largest_person_share'][e]:.0%})"
                for e in EMOTIONS
            )
            lines.append(f"  persons per class (largest one's share): {carried}")
    for d in differences or []:
        spans = "  ".join(
            f"{name} {delta:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            for name, (delta, lo, hi) in d["pipeline"].items()
        )
        lines.append(f"{d['model']} minus {d['versus']}, pipeline: {spans}")
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
    readings = [read_photos(config, name, photos) for name in names]
    reports = [photos_report(r) for r in readings]
    differences = [paired_difference(readings[0], r) for r in readings[1:]]
    if args.json:
        out: Any = (
            {"split": args.split, **reports[0]}
            if len(reports) == 1
            else {"models": reports, "differences": differences}
        )
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_photos_report(reports, args.split, differences))
    return 0
