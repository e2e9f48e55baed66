"""lab/metrics.py: the classification metrics on hand-computed cases, temperatures, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodpi.lab.metrics import (
    accuracy,
    class_scores,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    headline_scores,
    interval95,
    macro_f1,
    negative_log_likelihood,
    per_class_metrics,
    person_resamples,
    temper,
)


def test_confusion_accuracy_precision_recall_f1() -> None:
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    confusion = confusion_matrix(y_true, y_pred, 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert accuracy(y_true, y_pred) == pytest.approx(0.6)
    per_class = per_class_metrics(confusion)
    assert [m["precision"] for m in per_class] == pytest.approx([1 / 2, 2 / 3, 0.0])
    assert [m["recall"] for m in per_class] == pytest.approx([1 / 2, 1.0, 0.0])
    assert [m["f1"] for m in per_class] == pytest.approx([0.5, 0.8, 0.0])
    assert [m["support"] for m in per_class] == [2, 2, 1]
    assert macro_f1(confusion) == pytest.approx(1.3 / 3)


def test_macro_f1_ignores_classes_absent_from_the_truth() -> None:
    confusion = confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 1]), 7)
    assert macro_f1(confusion) == pytest.approx(1.0)


def test_expected_calibration_error() -> None:
    # confidence 0.9 right and 0.6 wrong, in different bins: (|1 - 0.9| + |0 - 0.6|) / 2
    probs = np.array([[0.9, 0.1], [0.4, 0.6]])
    assert expected_calibration_error(probs, np.array([0, 0]), 15) == pytest.approx(0.35)
    # four faces at 0.75 confidence, three right: perfectly calibrated
    probs = np.tile([0.75, 0.25], (4, 1))
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1]), 15) == pytest.approx(0.0)


def test_negative_log_likelihood() -> None:
    probs = np.array([[0.5, 0.5], [0.0, 1.0]])
    assert negative_log_likelihood(probs, np.array([0, 0]), 1e-4) == pytest.approx(
        (math.log(2) + math.log(1e4)) / 2
    )


def test_fit_temperature_recovers_overconfidence() -> None:
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 3, size=(4000, 7))
    true_p = np.exp(logits / 2.0)
    true_p /= true_p.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(7, p=p) for p in true_p])
    model_p = np.exp(logits)
    model_p /= model_p.sum(axis=1, keepdims=True)  # twice as sharp as the truth
    t = fit_temperature(model_p, labels, 1e-9)
    assert 1.8 < t < 2.2
    after = expected_calibration_error(temper(model_p, t, 1e-9), labels)
    assert after < expected_calibration_error(model_p, labels) / 2


def test_headline_scores_count_a_miss_as_wrong_and_average_present_classes() -> None:
    y = np.array([3, 3, 6, 6, 0])
    pred = np.array([3, 6, 6, -1, 0])  # -1: no face found
    acc, balanced, f1 = headline_scores(y, pred, 7)
    assert acc == 0.6
    assert balanced == (0.5 + 0.5 + 1.0) / 3  # happy, neutral, angry; absent classes left out
    # happy: P 1, R .5; neutral: P .5, R .5; angry: P 1, R 1
    assert abs(f1 - (2 / 3 + 0.5 + 1.0) / 3) < 1e-12


def test_person_resamples_draw_whole_persons_and_repeat_with_the_seed() -> None:
    persons = np.array(["a", "a", "a", "b", "c", "c"])
    draws = person_resamples(persons, resamples=200)
    for draw in draws:
        names, counts = np.unique(persons[draw], return_counts=True)
        # each drawn person brings all of its photos, as often as it was drawn
        per_person = {"a": 3, "b": 1, "c": 2}
        assert all(c % per_person[n] == 0 for n, c in zip(names, counts, strict=True))
        assert sum(c // per_person[n] for n, c in zip(names, counts, strict=True)) == 3
    again = person_resamples(persons, resamples=200)
    assert all(np.array_equal(x, z) for x, z in zip(draws, again, strict=True))
    assert len({tuple(d) for d in draws}) > 5  # not one draw repeated


def test_one_person_carrying_the_score_gives_a_wide_interval() -> None:
    # 50 photos each of two persons: one read right every time, the other never. Resampling
    # photos would give a tight interval around 0.5; resampling persons shows it could be 0 or 1.
    persons = np.array(["right"] * 50 + ["wrong"] * 50)
    y = np.full(100, 3)
    pred = np.array([3] * 50 + [6] * 50)
    scores = [headline_scores(y[d], pred[d], 7) for d in person_resamples(persons, 400)]
    low, high = interval95(np.asarray(scores))
    assert low[0] == 0.0 and high[0] == 1.0


def test_class_scores_count_misses_against_recall_and_in_no_precision() -> None:
    confusion = confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 3)
    precision, recall, f1, support = class_scores(confusion, np.array([2, 0, 1]))
    assert support.tolist() == [4, 1, 1]  # two class-0 items and one class-2 item missed
    assert precision.tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert recall.tolist() == pytest.approx([0.25, 1.0, 0.0])
    assert f1.tolist() == pytest.approx([0.4, 2 / 3, 0.0])
    assert per_class_metrics(confusion)[0]["recall"] == 0.5  # without misses
