"""Classification metrics as pure functions of arrays: accuracy, confusion, per-class precision,
recall and F1, macro-F1, expected calibration error, NLL, the fit of a softmax temperature, and
intervals by resampling whole persons.

Used by `moodpi evaluate` and by the model export and training scripts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if y_true.size else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def class_scores(
    confusion: np.ndarray, missed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1, support) per class; 0 where undefined (nothing predicted/true).

    `missed`: per class, the true items nothing was predicted for (a photo without a face): they
    count in the class's support, so against its recall, and in no precision.
    """
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1) + (0 if missed is None else np.asarray(missed))
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(tp), where=denominator > 0
    )
    return precision, recall, f1, support


def per_class_metrics(confusion: np.ndarray) -> list[dict[str, float]]:
    """Precision, recall, F1 and support per class; 0 where undefined (nothing predicted/true)."""
    return [
        {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for p, r, f, s in zip(*class_scores(confusion), strict=True)
    ]


def macro_f1(confusion: np.ndarray) -> float:
    """Unweighted mean F1 over the classes present in the true labels."""
    rows = [m for m in per_class_metrics(confusion) if m["support"] > 0]
    return float(np.mean([m["f1"] for m in rows])) if rows else 0.0


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Sum over equal-width confidence bins of |accuracy - mean confidence| x bin share."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.clip(
        np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1
    )  # (k/n, (k+1)/n]
    ece = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray, floor: float = 1e-7) -> float:
    picked = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.log(np.maximum(picked, floor)).mean())


def temper(probs: np.ndarray, temperature: float, floor: float) -> np.ndarray:
    """The classifier's temperature step on rows of raw probabilities."""
    from moodpi.perception.classify.emotion import to_probabilities

    return to_probabilities(probs, temperature, "probs", floor)


def fit_temperature(probs: np.ndarray, labels: np.ndarray, floor: float = 1e-7) -> float:
    """T minimising the NLL of temper(probs, T): a log-spaced grid, then golden-section search."""

    def nll(log_t: float) -> float:
        return negative_log_likelihood(temper(probs, math.exp(log_t), floor), labels, floor)

    grid = np.linspace(math.log(0.05), math.log(20.0), 61)
    best = int(np.argmin([nll(g) for g in grid]))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    return math.exp(golden_section(nll, float(low), float(high)))


def golden_section(
    cost: Callable[[float], float], low: float, high: float, steps: int = 40
) -> float:
    """The minimum of a cost that has one on [low, high], to about 0.618**steps of the span."""
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(steps):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if cost(a) < cost(b):
            high = b
        else:
            low = a
    return (low + high) / 2


def headline_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """[accuracy, balanced accuracy, macro-F1] of one reading; y_pred -1 is a miss (no face).

    Balanced accuracy and macro-F1 average over the classes present in y_true.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not y_true.size:
        return np.zeros(3)
    found = y_pred >= 0
    confusion = confusion_matrix(y_true[found], y_pred[found], n_classes)
    _, recall, f1, support = class_scores(
        confusion, np.bincount(y_true[~found], minlength=n_classes)
    )
    present = support > 0
    return np.array([(y_pred == y_true).mean(), recall[present].mean(), f1[present].mean()])


def person_resamples(
    persons: np.ndarray, resamples: int = 1000, seed: int = 20261202
) -> list[np.ndarray]:
    """Index sets that each draw as many persons as there are, with replacement, whole.

    Photos of one person are not independent (the same face, often the same session), so an
    interval that resamples photos would be too narrow; drawing whole persons is the cluster
    bootstrap. Seeded: the same persons give the same draws, so models compared on one photo
    set are resampled alike (paired).
    """
    names, person_index = np.unique(np.asarray(persons), return_inverse=True)
    members = [np.flatnonzero(person_index == k) for k in range(len(names))]
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([members[k] for k in rng.integers(0, len(names), len(names))])
        for _ in range(resamples)
    ]


def interval95(values: np.ndarray) -> np.ndarray:
    """The 2.5 and 97.5 percentiles of resampled values, per column: shape (2, columns)."""
    bounds: np.ndarray = np.percentile(np.asarray(values), [2.5, 97.5], axis=0)
    return bounds


def crowd_agreement(
    votes: np.ndarray, predicted: np.ndarray, totals: np.ndarray | None = None
) -> float:
    """The mean share of each item's votes that went to its predicted class.

    `votes` (N, K) counts on the K classes predicted; `totals` (N,) all the votes each item got,
    also those on answers outside the K (FER+'s contempt, unknown, not-a-face); default: the
    row sums. Items without a vote are the caller's to leave out.
    """
    votes = np.asarray(votes, dtype=np.float64)
    totals = votes.sum(axis=1) if totals is None else np.asarray(totals, dtype=np.float64)
    if not len(votes):
        return 0.0
    picked = votes[np.arange(len(votes)), np.asarray(predicted)]
    return float((picked / totals).mean())


def soft_cross_entropy(probs: np.ndarray, targets: np.ndarray, floor: float = 1e-7) -> float:
    """Mean over items of -sum_k q_k log p_k, q each row of `targets` (counts) renormalised.

    With probs = targets it is the targets' own mean entropy: the least any model can score."""
    q = np.asarray(targets, dtype=np.float64)
    q = q / q.sum(axis=1, keepdims=True)
    log_p = np.log(np.maximum(np.asarray(probs, dtype=np.float64), floor))
    return float(-(q * log_p).sum(axis=1).mean()) if len(q) else 0.0
