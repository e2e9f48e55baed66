"""scripts/make_replay.py: the plan of a labelled replay's segments."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np

from tests.support.daemon import REPO


def test_make_replay_plans_calm_but_varied_segments() -> None:
    script = REPO / "scripts" / "make_replay.py"
    spec = importlib.util.spec_from_file_location("make_replay", script)
    assert spec is not None and spec.loader is not None
    make_replay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_replay)
    emotions = ["happy", "surprise", "neutral", "sad", "angry"]
    for seed in range(20):
        rng = np.random.default_rng(seed)
        plan = make_replay.plan_segments(emotions, 20, rng, min_s=5.0, max_s=15.0)
        faces = [e for e, _ in plan if e is not None]
        assert len(plan) == 20 and plan[0][0] is not None
        assert all(5.0 <= d <= 15.0 and round(d, 1) == d for _, d in plan)
        assert 1 <= sum(e is None for e, _ in plan) <= 4  # a few empty rooms
        assert all(a != b for a, b in itertools.pairwise(faces))  # every one a change
        assert all(a[0] is not None or b[0] is not None for a, b in itertools.pairwise(plan))
        assert set(faces) == set(emotions) and max(map(faces.count, emotions)) <= 5
