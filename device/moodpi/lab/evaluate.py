"""`moodpi evaluate`: the emotion model on labelled FER-2013 faces, in the formats users have.

Readers: Kaggle's `fer2013.csv` (emotion,pixels,Usage), an image folder (`<root>/<label>/*.png`
or `<root>/<split>/<label>/...`), and the `.npz` arrays of ../shared/data/fer2013. Bad rows and
unreadable images are skipped and counted, never fatal. The metrics: lab/metrics.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodpi.config import Config
from moodpi.lab.metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    per_class_metrics,
)
from moodpi.types import EMOTIONS

log = logging.getLogger(__name__)

EX_USAGE, EX_DATAERR, EX_NOINPUT = 64, 65, 66
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm")
# Split folder names of the common image-folder distribution (train/, test/) per Kaggle Usage.
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "training": ("train",),
    "publictest": ("test", "public_test", "val", "validation"),
    "privatetest": ("private_test",),
}


class DatasetError(Exception):
    """The dataset is missing, unreadable or empty."""


@dataclass(frozen=True)
class Dataset:
    images: list[np.ndarray]  # grey uint8 faces, any size
    labels: np.ndarray  # (N,) int64 indices into EMOTIONS
    skipped: int  # rows or files that could not be used
    source: str


# ---------------------------------------------------------------------------------------------
# Readers


def load_dataset(path: str | Path, usage: str = "PublicTest", limit: int | None = None) -> Dataset:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    if path.is_dir():
        images, labels, skipped = _take(_read_folder(path, usage), limit)
    elif path.suffix.lower() == ".csv":
        images, labels, skipped = _take(_read_csv(path, usage), limit)
    elif path.suffix.lower() == ".npz":
        images, labels, skipped = _read_npz(path, limit)
    else:
        raise DatasetError(f"{path}: expected fer2013.csv, an image folder or a .npz file")
    if not images:
        raise DatasetError(f"{path}: no usable faces (usage {usage!r}, {skipped} skipped)")
    return Dataset(images, np.asarray(labels, dtype=np.int64), skipped, str(path))


# Each reader yields (face, label) or None for a skipped row.
Row = tuple[np.ndarray, int] | None


def _take(rows: Iterator[Row], limit: int | None) -> tuple[list[np.ndarray], list[int], int]:
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for row in rows:
        if row is None:
            skipped += 1
            continue
        images.append(row[0])
        labels.append(row[1])
        if limit is not None and len(images) >= limit:
            break
    return images, labels, skipped


def parse_pixels(text: str) -> np.ndarray:
    """Kaggle's space-separated grey values → a square (S, S) uint8 face. ValueError if not."""
    values = np.array(text.split(), dtype=np.int64)
    side = math.isqrt(values.size)
    if values.size == 0 or side * side != values.size:
        raise ValueError(f"{values.size} pixels is not a square image")
    if values.min() < 0 or values.max() > 255:
        raise ValueError("pixel values outside 0..255")
    return values.astype(np.uint8).reshape(side, side)


def _read_csv(path: Path, usage: str) -> Iterator[Row]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = {name.strip().lower() for name in reader.fieldnames or ()}
            if not {"emotion", "pixels"} <= fields:
                raise DatasetError(
                    f"{path}: expected columns emotion,pixels[,Usage], got {reader.fieldnames}"
                )
            for record in reader:
                row = {(k or "").strip().lower(): (v or "") for k, v in record.items()}
                if "usage" in fields and row["usage"].strip().lower() != usage.lower():
                    continue
                try:
                    label = int(row["emotion"])
                    if not 0 <= label < len(EMOTIONS):
                        raise ValueError(f"emotion {label} out of range")
                    yield parse_pixels(row["pixels"]), label
                except ValueError as exc:
                    log.debug("%s line %d skipped: %s", path, reader.line_num, exc)
                    yield None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc


def _label_dirs(root: Path) -> dict[int, Path]:
    found = {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in EMOTIONS:
            found[EMOTIONS.index(child.name.lower())] = child
    return found


def folder_root(root: Path, usage: str) -> Path:
    """The folder holding the label folders: `root` itself, or its split folder for `usage`."""
    if _label_dirs(root):
        return root
    names = {usage.lower(), *SPLIT_ALIASES.get(usage.lower(), ())}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in names and _label_dirs(child):
            return child
    raise DatasetError(
        f"{root}: no label folders ({', '.join(EMOTIONS)}) in it or in a split folder "
        f"matching usage {usage!r}"
    )


def _read_folder(root: Path, usage: str) -> Iterator[Row]:
    import cv2

    try:
        labelled = _label_dirs(folder_root(root, usage))
        for label, folder in sorted(labelled.items()):
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                face = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                if face is None or face.size == 0:
                    log.debug("unreadable image skipped: %s", file)
                    yield None
                else:
                    yield face, label
    except OSError as exc:
        raise DatasetError(f"cannot read {root}: {exc}") from exc


def _read_npz(path: Path, limit: int | None) -> tuple[list[np.ndarray], list[int], int]:
    try:
        with np.load(path) as data:
            images, labels = data["images"], data["labels"]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"cannot read {path} (needs arrays images, labels): {exc}") from exc
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
        raise DatasetError(f"{path}: expected images (N, H, W) uint8 and N labels")
    valid = (labels >= 0) & (labels < len(EMOTIONS))
    keep = np.flatnonzero(valid)[:limit]
    return [images[i] for i in keep], [int(labels[i]) for i in keep], int((~valid).sum())


# ---------------------------------------------------------------------------------------------
# The command


def evaluate(classifier: Any, dataset: Dataset) -> tuple[dict[str, Any], int]:
    """Classify every face; returns (report, faces the classifier refused)."""
    to_fer = np.array([EMOTIONS.index(label) for label in classifier.labels])
    predictions, kept, refused, times_ns = [], [], 0, []
    for face, label in zip(dataset.images, dataset.labels, strict=True):
        started = time.perf_counter_ns()
        try:
            predictions.append(classifier.classify(face))
        except ValueError as exc:
            log.debug("face skipped: %s", exc)
            refused += 1
            continue
        times_ns.append(time.perf_counter_ns() - started)
        kept.append(label)
    if not predictions:
        raise DatasetError(f"{dataset.source}: the classifier refused all {refused} faces")
    probs, labels = np.stack(predictions), np.asarray(kept)
    probs_fer = np.zeros((len(probs), len(EMOTIONS)), dtype=np.float64)
    probs_fer[:, to_fer] = probs
    predicted = probs_fer.argmax(axis=1)
    confusion = confusion_matrix(labels, predicted, len(EMOTIONS))
    report = {
        "accuracy": round(accuracy(labels, predicted), 4),
        "macro_f1": round(macro_f1(confusion), 4),
        "per_class": {
            name: {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()}
            for name, m in zip(EMOTIONS, per_class_metrics(confusion), strict=True)
        },
        "confusion": confusion.tolist(),
        "n": len(labels),
        "ece15": round(expected_calibration_error(probs_fer, labels), 4),
        # the whole per-face step as the daemon runs it (flip averaging: two invokes)
        "ms_per_face": round(float(np.median(times_ns)) / 1e6, 3),
    }
    return report, refused


def cli_evaluate(args: argparse.Namespace) -> int:
    from moodpi import config as config_module

    config = config_module.load(args.config)
    if args.limit is not None and args.limit < 1:
        log.error("--limit must be at least 1")
        return EX_USAGE
    if getattr(args, "photos", None):
        from moodpi.lab.evaluate_photos import cli_evaluate_photos

        return cli_evaluate_photos(args, config)
    if not args.dataset:
        log.error("evaluate: give --dataset (FER-2013 faces) or --photos (real photographs)")
        return EX_USAGE
    flip = config.emotion.flip_average if args.flip is None else bool(args.flip)
    try:
        dataset = load_dataset(args.dataset, args.usage, args.limit)
    except DatasetError as exc:
        log.error("%s", exc)
        return EX_NOINPUT
    reports = []
    for name in [args.model or config.emotion.model, *(getattr(args, "compare", None) or [])]:
        report = evaluate_model(config, name, flip, dataset)
        if isinstance(report, int):
            return report
        reports.append({**report, "usage": args.usage})
    if args.json:
        out: Any = reports[0] if len(reports) == 1 else {"models": reports}
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif len(reports) == 1:
        sys.stdout.write(format_report(reports[0]))
    else:
        sys.stdout.write(format_comparison(reports))
    return 0


def model_file(name: str, config: Config | None = None) -> Path:
    """A model named on a command line: a file, or a name in the models dir (`retired/...`)."""
    return Path(name) if Path(name).is_file() else (config or Config()).model_path(name)


def evaluate_model(config: Any, name: str, flip: bool, dataset: Dataset) -> dict[str, Any] | int:
    """One model (a path, or a name in the models dir) on the dataset; an exit status on failure."""
    from moodpi.perception.classify.emotion import EmotionClassifier
    from moodpi.perception.tflite import runtime

    model = model_file(name, config)
    try:
        classifier = EmotionClassifier.from_file(
            model, flip_average=flip, num_threads=config.emotion.num_threads
        )
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return EX_NOINPUT
    except ValueError as exc:
        log.error("%s", exc)
        return EX_DATAERR
    try:
        report, refused = evaluate(classifier, dataset)
    except DatasetError as exc:
        log.error("%s", exc)
        return EX_NOINPUT
    return {
        **report,
        "model": str(model),
        "runtime": runtime().describe(),
        "flip": flip,
        "dataset": dataset.source,
        "skipped": dataset.skipped + refused,
    }


def format_comparison(reports: list[dict[str, Any]]) -> str:
    """Several models on the same faces, one column each: the first is the reference."""
    names = [Path(r["model"]).stem for r in reports]
    width = max(12, *(len(n) + 2 for n in names))
    first = reports[0]

    def row(label: str, values: list[str]) -> str:
        return f"{label:<18}" + "".join(f"{v:>{width}}" for v in values)

    lines = [
        f"dataset  {first['dataset']} usage={first['usage']}: {first['n']} faces, "
        f"flip={first['flip']}, {first['runtime']}",
        row("", names),
        row("accuracy", [f"{r['accuracy']:.4f}" for r in reports]),
        row("macro-F1", [f"{r['macro_f1']:.4f}" for r in reports]),
        row("ECE(15)", [f"{r['ece15']:.4f}" for r in reports]),
        row("ms per face", [f"{r['ms_per_face']:.3f}" for r in reports]),
        row("faces skipped", [str(r["skipped"]) for r in reports]),
        "recall per class",
    ]
    for name in EMOTIONS:
        lines.append(row(f"  {name}", [f"{r['per_class'][name]['recall']:.3f}" for r in reports]))
    return "\n".join(lines) + "\n"


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"model    {report['model']} ({report['runtime']}, flip={report['flip']})",
        f"dataset  {report['dataset']} usage={report['usage']}: {report['n']} faces, "
        f"{report['skipped']} skipped",
        f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}   "
        f"ECE(15) {report['ece15']:.4f}   {report['ms_per_face']:.3f} ms per face (median)",
        "",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for name, m in report["per_class"].items():
        lines.append(
            f"{name:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10}"
        )
    lines += [
        "",
        "confusion (rows: true, columns: predicted)",
        " " * 10 + "".join(f"{n[:7]:>8}" for n in EMOTIONS),
    ]
    for name, row in zip(EMOTIONS, report["confusion"], strict=True):
        lines.append(f"{name:<10}" + "".join(f"{v:>8}" for v in row))
    return "\n".join(lines) + "\n"
