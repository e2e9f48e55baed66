"""A model's readings of faces scored against their labels and FER+'s votes: the figures of
`moodpi evaluate --dataset` (docs/evaluate.md), as pure functions of arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from moodpi.lab.fer.faces import ORIGINAL
from moodpi.lab.fer.votes import clear_majority, seven_class_votes
from moodpi.lab.metrics import (
    accuracy,
    confusion_matrix,
    crowd_agreement,
    expected_calibration_error,
    macro_f1,
    per_class_metrics,
    soft_cross_entropy,
)
from moodpi.types import EMOTIONS


def label_scores(probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Top-1 accuracy, macro-F1, per class, confusion, n and ECE of probs (N, 7) against labels."""
    predicted = probs.argmax(axis=1)
    confusion = confusion_matrix(labels, predicted, len(EMOTIONS))
    return {
        "accuracy": round(accuracy(labels, predicted), 4),
        "macro_f1": round(macro_f1(confusion), 4),
        "per_class": {
            name: {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()}
            for name, m in zip(EMOTIONS, per_class_metrics(confusion), strict=True)
        },
        "confusion": confusion.tolist(),
        "n": len(labels),
        "ece15": round(expected_calibration_error(probs, labels), 4),
    }


def vote_scores(
    probs: np.ndarray, votes: np.ndarray, labels: np.ndarray, label_kind: str = ORIGINAL
) -> dict[str, Any]:
    """probs (N, 7) in EMOTIONS order against FER+'s votes (N, 10) for the same faces.

    Agreement and cross-entropy count the faces with a vote on one of the seven classes; the
    `majority` figures the faces whose clear majority names one (votes.clear_majority), where
    `labels` (original FER-2013 labels, -1 for none) are compared as well.
    """
    seven, totals = seven_class_votes(votes), np.asarray(votes, np.float64).sum(axis=1)
    voted = seven.sum(axis=1) > 0
    predicted = probs.argmax(axis=1)
    shares = seven[voted] / seven[voted].sum(axis=1, keepdims=True)
    majority = clear_majority(votes)
    clear = majority >= 0
    with_label = clear & (labels >= 0) if label_kind == ORIGINAL else np.zeros_like(clear)

    def share(mask: np.ndarray, hits: np.ndarray) -> float | None:
        return round(float(hits[mask].mean()), 4) if mask.any() else None

    def over_voted(value: float) -> float | None:
        return round(value, 4) if voted.any() else None

    return {
        "faces": int(voted.sum()),
        "no_votes": int((~voted).sum()),
        "crowd_agreement": over_voted(
            crowd_agreement(seven[voted], predicted[voted], totals[voted])
        ),
        "cross_entropy": over_voted(soft_cross_entropy(probs[voted], seven[voted])),
        "vote_entropy": over_voted(soft_cross_entropy(shares, shares)),
        "majority": {
            **label_scores(probs[clear], majority[clear]),
            "original_accuracy": share(with_label, predicted == labels),
            "original_agreement": share(with_label, majority == labels),
        },
    }
