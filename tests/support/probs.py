"""What a classifier would say, written by hand: probability vectors over EMOTIONS for the tests
of everything downstream of the model (the mood tracker, the mood grid)."""

from __future__ import annotations

import numpy as np

from moodpi.types import EMOTIONS

N = len(EMOTIONS)


def onehot(emotion: str, p: float = 0.9) -> np.ndarray:
    """`p` on `emotion`, the rest spread evenly over the other classes."""
    return mix(**{emotion: p})


def mix(**weights: float) -> np.ndarray:
    """Given classes at the given probabilities, the rest spread evenly over the others."""
    probs = np.full(N, (1.0 - sum(weights.values())) / (N - len(weights)))
    for emotion, p in weights.items():
        probs[EMOTIONS.index(emotion)] = p
    return probs
