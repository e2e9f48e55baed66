"""lab/fer: what FER+'s votes say (the clear majority, the seven classes) and the figures scored
against them, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodpi.lab.fer.scores import vote_scores
from moodpi.lab.fer.votes import VOTE_NAMES, clear_majority, seven_class_votes
from moodpi.lab.metrics import crowd_agreement, soft_cross_entropy
from moodpi.types import EMOTIONS


def ballot(**counts: int) -> list[int]:
    """Ten FER+ columns from keyword counts: ballot(happiness=8, neutral=2)."""
    assert set(counts) <= set(VOTE_NAMES), counts
    return [counts.get(name, 0) for name in VOTE_NAMES]


def fer(name: str) -> int:
    return EMOTIONS.index(name)  # type: ignore[arg-type]


def test_seven_classes_in_fer2013_order() -> None:
    votes = np.array([ballot(neutral=1, happiness=2, surprise=3, sadness=4, anger=5, disgust=6,
                             fear=7, contempt=8, unknown=9, NF=10)])  # fmt: skip
    # EMOTIONS: angry, disgust, fear, happy, sad, surprise, neutral
    assert seven_class_votes(votes).tolist() == [[5, 6, 7, 2, 4, 3, 1]]


def test_clear_majority_needs_more_than_half_of_all_the_votes() -> None:
    votes = np.array(
        [
            ballot(happiness=6, neutral=4),  # clear
            ballot(happiness=5, neutral=5),  # a tie at half: not clear
            ballot(sadness=5, contempt=4, unknown=1),  # half of ten: not clear
            ballot(fear=5, NF=4),  # 5 of 9 votes: clear
            ballot(NF=10),  # not a face
            ballot(contempt=8, anger=2),  # contempt has no class here
            ballot(),  # no votes at all (no FER+ twin)
        ]
    )
    assert clear_majority(votes).tolist() == [fer("happy"), -1, -1, fer("fear"), -1, -1, -1]


def test_crowd_agreement_shares_all_the_votes_cast() -> None:
    seven = np.array([[8, 2, 0], [1, 1, 0]])
    assert crowd_agreement(seven, np.array([0, 1])) == pytest.approx((0.8 + 0.5) / 2)
    # the same face with 5 more votes on answers outside the classes (contempt, not a face)
    totals = np.array([10, 7])
    assert crowd_agreement(seven, np.array([1, 2]), totals) == pytest.approx((0.2 + 0.0) / 2)


def test_soft_cross_entropy_renormalises_the_counts() -> None:
    uniform = np.full((1, 4), 0.25)
    assert soft_cross_entropy(uniform, np.array([[3, 1, 0, 0]])) == pytest.approx(math.log(4))
    probs = np.array([[0.5, 0.5, 0.0]])
    expected = -(0.75 * math.log(0.5) + 0.25 * math.log(0.5))
    assert soft_cross_entropy(probs, np.array([[6, 2, 0]])) == pytest.approx(expected)
    # a vote on a class the model gives 0 costs -log(floor), not infinity
    assert soft_cross_entropy(np.array([[1.0, 0.0]]), np.array([[1, 1]])) == pytest.approx(
        -0.5 * math.log(1e-7)
    )
    shares = np.array([[0.5, 0.5]])
    assert soft_cross_entropy(shares, shares) == pytest.approx(math.log(2))


def one_hot(names: list[str], confidence: float = 0.7) -> np.ndarray:
    """Readings that put `confidence` on the named class and spread the rest evenly."""
    probs = np.full((len(names), len(EMOTIONS)), (1 - confidence) / (len(EMOTIONS) - 1))
    probs[np.arange(len(names)), [fer(n) for n in names]] = confidence
    return probs


def test_vote_scores_on_four_faces() -> None:
    votes = np.array(
        [
            ballot(happiness=8, surprise=2),  # clear happy, read happy
            ballot(neutral=6, sadness=4),  # clear neutral; FER-2013 said sad, read sad
            ballot(sadness=5, neutral=5),  # no clear majority, read sad
            ballot(),  # no FER+ twin, read angry
        ]
    )
    labels = np.array([fer("happy"), fer("sad"), fer("sad"), fer("angry")])
    probs = one_hot(["happy", "sad", "sad", "angry"])
    scores = vote_scores(probs, votes, labels)
    assert scores["faces"] == 3 and scores["no_votes"] == 1
    assert scores["crowd_agreement"] == pytest.approx((0.8 + 0.4 + 0.5) / 3, abs=1e-4)
    rest = 0.3 / 6
    expected_ce = (
        -(
            (0.8 * math.log(0.7) + 0.2 * math.log(rest))
            + (0.6 * math.log(rest) + 0.4 * math.log(0.7))
            + (0.5 * math.log(0.7) + 0.5 * math.log(rest))
        )
        / 3
    )
    assert scores["cross_entropy"] == pytest.approx(expected_ce, abs=1e-4)
    own = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2) + 0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert scores["vote_entropy"] == pytest.approx((own + math.log(2)) / 3, abs=1e-4)
    majority = scores["majority"]
    assert majority["n"] == 2 and majority["accuracy"] == 0.5
    assert majority["per_class"]["happy"]["recall"] == 1.0
    assert majority["per_class"]["neutral"]["recall"] == 0.0
    assert majority["per_class"]["neutral"]["support"] == 1
    # macro-F1 over the classes present in the majority: happy 1.0, neutral 0.0
    assert majority["macro_f1"] == 0.5
    assert majority["confusion"][fer("neutral")][fer("sad")] == 1
    # both faces read with confidence 0.7, one of two right: ECE |0.5 - 0.7|
    assert majority["ece15"] == pytest.approx(0.2, abs=1e-4)
    assert majority["original_accuracy"] == 1.0  # the model follows FER-2013's "sad"
    assert majority["original_agreement"] == 0.5


def test_vote_scores_without_original_labels_or_votes() -> None:
    probs = one_hot(["happy", "sad"])
    votes = np.array([ballot(happiness=9, NF=1), ballot(sadness=7, neutral=3)])
    scores = vote_scores(probs, votes, np.array([-1, -1]))
    assert scores["majority"]["accuracy"] == 1.0
    assert scores["majority"]["original_accuracy"] is None
    assert scores["majority"]["original_agreement"] is None
    assert scores["crowd_agreement"] == pytest.approx(0.8)
    empty = vote_scores(probs, np.zeros((2, 10)), np.array([3, 4]))
    assert empty["faces"] == 0 and empty["crowd_agreement"] is None
    assert empty["cross_entropy"] is None and empty["majority"]["n"] == 0
