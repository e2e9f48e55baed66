"""scripts/model/fit_temperature.py: the calibration side it fits on is disjoint from the
validation side `moodpi evaluate --photos` reports, and its fit finds the right temperature."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from moodpi.lab.evaluate_photos import load_photos
from tests.support.daemon import REPO


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "model" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ft = _load("fit_temperature")


def _labelled_folder(tmp_path: Path, persons: int) -> Path:
    rows = ["file,emotion"]
    for i in range(persons):
        for k in (1, 2):
            rows.append(f"images/Person_{i:03d}_{k:04d}.jpg,{('happy', 'sad', 'neutral')[i % 3]}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_calibration_side_is_held_out_persons_never_the_validation_ones(tmp_path: Path) -> None:
    folder = _labelled_folder(tmp_path, 400)
    args = argparse.Namespace(real_photos=folder, val_percent=25, calib_percent=10)
    sides = ft.split_photos(args)
    persons = {name: {ft.person_of(p.name) for p, _ in photos} for name, photos in sides.items()}
    assert not persons["calib"] & persons["val"]
    # about 10 % and 25 % of 400 persons; both photos of a person land on the same side
    assert 20 <= len(persons["calib"]) <= 60 and 70 <= len(persons["val"]) <= 130
    assert len(sides["calib"]) == 2 * len(persons["calib"])
    # the validation side is exactly the one `moodpi evaluate --photos` reports
    assert [p for p, _ in sides["val"]] == [p.path for p in load_photos(folder, "val")]
    # and no calibration person is trained on: train_model.py drops the same hash range
    train_side = {ft.person_of(p.path.name) for p in load_photos(folder, "train")}
    assert persons["calib"] <= train_side


def _sample(rng: np.random.Generator, n: int, true_t: float) -> tuple[np.ndarray, np.ndarray]:
    z = rng.normal(0, 2, size=(n, 7))
    p = np.exp(z / true_t)
    p /= p.sum(axis=1, keepdims=True)
    return z, np.array([rng.choice(7, p=row) for row in p])


def test_fit_finds_each_domains_temperature_and_a_joint_one_between() -> None:
    rng = np.random.default_rng(3)
    under = _sample(rng, 4000, 0.6)  # logits too soft: the model is right more than it says
    over = _sample(rng, 4000, 1.5)
    t_under, t_over = ft.fit([under]), ft.fit([over])
    assert t_under == pytest.approx(0.6, rel=0.1) and t_over == pytest.approx(1.5, rel=0.1)
    assert t_under < ft.fit([under, over]) < t_over
    # calibrated at its own temperature, badly at the other's
    assert ft.ece(*under, t_under) < 0.03 < ft.ece(*under, t_over)


def test_a_fit_against_vote_distributions_finds_the_crowds_temperature() -> None:
    # The crowd splits 70/30 on every face; a model whose logits put 0.7 on the first class at
    # T = 2 is calibrated against the votes at T = 2, not at the one-hot optimum.
    rng = np.random.default_rng(0)
    votes = np.zeros((400, 7))
    first = rng.integers(0, 7, 400)
    second = (first + 1) % 7
    votes[np.arange(400), first] = 0.7
    votes[np.arange(400), second] = 0.3
    z = np.full((400, 7), -30.0)
    z[np.arange(400), first] = 0.0
    z[np.arange(400), second] = np.log(0.3 / 0.7)
    z *= 2.0  # at T = 2 the softmax is exactly the vote distribution
    assert ft.fit([(z, votes)]) == pytest.approx(2.0, rel=0.01)
    one_hot = ft.fit([(z, first)])
    assert one_hot < 1.5  # the same logits fitted to the majority label want more confidence
    assert ft.nll(z, votes, 2.0) < ft.nll(z, votes, 1.0)
    # ECE against the clear majority (0.7 > half): at T = 2 the confidence is 0.7 ...
    assert ft.ece(z, votes, 2.0) == pytest.approx(0.3, abs=0.01)  # ... and always right: 1 - 0.7
