"""`moodpi evaluate`: the emotion model on labelled FER-2013 faces, in the formats users have,
and against FER+'s ten votes per face where they are given (`--votes`, or FER+'s own folders).

The readers and the votes: lab/fer/ (faces.py, votes.py); the figures: lab/fer/scores.py and
lab/metrics.py; what each figure means: docs/evaluate.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from moodpi.config import Config
from moodpi.lab.fer import DatasetError
from moodpi.lab.fer.faces import FERPLUS_MAJORITY, Dataset, load_dataset
from moodpi.lab.fer.scores import label_scores, vote_scores
from moodpi.types import EMOTIONS

log = logging.getLogger(__name__)

EX_USAGE, EX_DATAERR, EX_NOINPUT = 64, 65, 66


# ---------------------------------------------------------------------------------------------
# The command


def evaluate(classifier: Any, dataset: Dataset) -> tuple[dict[str, Any], int]:
    """Classify every face; returns (report, faces the classifier refused)."""
    to_fer = np.array([EMOTIONS.index(label) for label in classifier.labels])
    predictions, kept, refused, times_ns = [], [], 0, []
    for index, face in enumerate(dataset.images):
        started = time.perf_counter_ns()
        try:
            predictions.append(classifier.classify(face))
        except ValueError as exc:
            log.debug("face skipped: %s", exc)
            refused += 1
            continue
        times_ns.append(time.perf_counter_ns() - started)
        kept.append(index)
    if not predictions:
        raise DatasetError(f"{dataset.source}: the classifier refused all {refused} faces")
    probs = np.stack(predictions)
    probs_fer = np.zeros((len(probs), len(EMOTIONS)), dtype=np.float64)
    probs_fer[:, to_fer] = probs
    labels = dataset.labels[kept]
    labelled = labels >= 0
    if not labelled.any():
        raise DatasetError(f"{dataset.source}: no face read has a {dataset.label_kind} label")
    report = {
        **label_scores(probs_fer[labelled], labels[labelled]),
        "labels": dataset.label_kind,
        # the whole per-face step as the daemon runs it (flip averaging: two invokes)
        "ms_per_face": round(float(np.median(times_ns)) / 1e6, 3),
    }
    if dataset.votes is not None:
        votes = vote_scores(probs_fer, dataset.votes[kept], labels, dataset.label_kind)
        report["votes"] = {"file": dataset.votes_source, **votes}
    return report, refused


def cli_evaluate(args: argparse.Namespace) -> int:
    from moodpi import config as config_module

    config = config_module.load(args.config)
    if args.limit is not None and args.limit < 1:
        log.error("--limit must be at least 1")
        return EX_USAGE
    if getattr(args, "votes", None) and not args.dataset:
        log.error("evaluate: --votes goes with --dataset (the faces they were cast for)")
        return EX_USAGE
    if getattr(args, "photos", None):
        from moodpi.lab.evaluate_photos import cli_evaluate_photos

        return cli_evaluate_photos(args, config)
    if not args.dataset:
        log.error("evaluate: give --dataset (FER-2013 faces) or --photos (real photographs)")
        return EX_USAGE
    flip = config.emotion.flip_average if args.flip is None else bool(args.flip)
    try:
        dataset = load_dataset(args.dataset, args.usage, args.limit, getattr(args, "votes", None))
    except DatasetError as exc:
        log.error("%s", exc)
        return EX_NOINPUT
    reports = []
    for name in [args.model or config.emotion.model, *(getattr(args, "compare", None) or [])]:
        report = evaluate_model(config, name, flip, dataset)
        if isinstance(report, int):
            return report
        reports.append({**report, "usage": dataset.usage or args.usage})
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

    def figures(label: str, key: str, scores: list[dict[str, Any]], digits: int = 4) -> str:
        return row(label, ["-" if s[key] is None else f"{s[key]:.{digits}f}" for s in scores])

    def recalls(scores: list[dict[str, Any]]) -> list[str]:
        return [
            row(f"  {name}", [f"{s['per_class'][name]['recall']:.3f}" for s in scores])
            for name in EMOTIONS
        ]

    lines = [
        f"dataset  {first['dataset']} usage={first['usage']}: {first['n']} faces, "
        f"flip={first['flip']}, {first['runtime']}",
        row("", names),
        figures("accuracy", "accuracy", reports),
        figures("macro-F1", "macro_f1", reports),
        figures("ECE(15)", "ece15", reports),
        figures("ms per face", "ms_per_face", reports, 3),
        row("faces skipped", [str(r["skipped"]) for r in reports]),
        f"recall per class ({_labels(first)})",
        *recalls(reports),
    ]
    if "votes" in first:
        votes = [r["votes"] for r in reports]
        majority = [v["majority"] for v in votes]
        lines += [
            f"FER+ votes  {votes[0]['file']}: {votes[0]['faces']} faces with votes, "
            f"{majority[0]['n']} with a clear majority",
            figures("majority accuracy", "accuracy", majority),
            figures("majority macro-F1", "macro_f1", majority),
            figures("majority ECE(15)", "ece15", majority),
            figures("crowd agreement", "crowd_agreement", votes),
            figures("cross-entropy", "cross_entropy", votes),
            "recall per class (FER+ clear majority)",
            *recalls(majority),
        ]
    return "\n".join(lines) + "\n"


def _labels(report: dict[str, Any]) -> str:
    if report.get("labels") == FERPLUS_MAJORITY:
        return "labels: FER+ clear majority"
    return "labels: FER-2013's own"


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"model    {report['model']} ({report['runtime']}, flip={report['flip']})",
        f"dataset  {report['dataset']} usage={report['usage']}: {report['n']} faces, "
        f"{report['skipped']} skipped ({_labels(report)})",
        f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}   "
        f"ECE(15) {report['ece15']:.4f}   {report['ms_per_face']:.3f} ms per face (median)",
        *_class_table(report),
    ]
    if "votes" in report:
        lines += _votes_text(report["votes"])
    return "\n".join(lines) + "\n"


def _class_table(scores: dict[str, Any]) -> list[str]:
    lines = ["", f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, m in scores["per_class"].items():
        lines.append(
            f"{name:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10}"
        )
    lines += [
        "",
        "confusion (rows: true, columns: predicted)",
        " " * 10 + "".join(f"{n[:7]:>8}" for n in EMOTIONS),
    ]
    for name, row in zip(EMOTIONS, scores["confusion"], strict=True):
        lines.append(f"{name:<10}" + "".join(f"{v:>8}" for v in row))
    return lines


def _votes_text(votes: dict[str, Any]) -> list[str]:
    majority = votes["majority"]

    def figure(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    return [
        "",
        f"FER+ votes  {votes['file']}: {votes['faces']} faces with votes "
        f"({votes['no_votes']} without)",
        f"crowd agreement {figure(votes['crowd_agreement'])} (mean share of the votes on the "
        f"predicted class)   cross-entropy {figure(votes['cross_entropy'])} nats (the votes' own "
        f"entropy {figure(votes['vote_entropy'])})",
        f"clear majority: {majority['n']} faces   accuracy {majority['accuracy']:.4f}   "
        f"macro-F1 {majority['macro_f1']:.4f}   ECE(15) {majority['ece15']:.4f}",
        f"on them, FER-2013's own label: accuracy {figure(majority['original_accuracy'])}, "
        f"agrees with the majority {figure(majority['original_agreement'])}",
        *_class_table(majority),
    ]
