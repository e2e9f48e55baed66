"""Calibrate and score the valence-arousal model on the music-mood-dev clips.

`.venv/bin/python scripts/music/calibrate.py [--data DIR] [--write]` describes each of the 240 clips
(cached in build/, never in git: the clips are research use only), then scores two variants,
audio alone and audio plus genre tags, cross-validated by artist: no artist is ever on both
sides of a split, over several random splits, with the regularisation chosen inside each
training side only (nested). It prints arousal, valence and quadrant accuracy and, with
`--write`, fits each variant on all clips and writes device/moodpi/music/analysis/va_model.json
with the figures and the data's source. bench/music-calibration.txt holds its output.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from moodpi.music.analysis.features import describe_file
from moodpi.music.analysis.placement import MODEL_PATH
from moodpi.music.analysis.tag_evidence import GENRE_ALIASES

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "music-mood-dev"
CACHE = REPO / "build" / "music-dev-features.json"
LAMBDAS = (3.0, 10.0, 30.0, 100.0, 300.0)
MODEL_NAME = "va-1"
SOURCE = (
    "4Q audio emotion dataset (Panda, Malheiro & Paiva, IEEE Trans. Affective Computing 2018,"
    " University of Coimbra): 240-clip development subset music-mood-dev, research use only;"
    " only these coefficients ship, never the audio"
)
Array = NDArray[np.float64]


@dataclass(frozen=True)
class Clips:
    features: list[str]
    x: Array  # clips x features
    genres: Array  # clips x genre vocabulary, 0/1
    arousal: Array  # 1: high
    valence: Array  # 1: positive
    artists: list[str]


def load_clips(data: Path, cache: Path = CACHE) -> Clips:
    rows = list(csv.DictReader((data / "labels.csv").open(encoding="utf-8")))
    vectors = _cached_vectors(data, rows, cache)
    names = sorted(vectors[rows[0]["song_id"]])
    genres = tuple(GENRE_ALIASES)
    tags = [[g.strip() for g in r["genres"].split(";")] for r in rows]
    return Clips(
        features=names,
        x=np.array([[vectors[r["song_id"]][n] for n in names] for r in rows]),
        genres=np.array([[1.0 if g in t else 0.0 for g in genres] for t in tags]),
        arousal=np.array([r["arousal"] == "high" for r in rows], dtype=np.float64),
        valence=np.array([r["valence"] == "positive" for r in rows], dtype=np.float64),
        artists=[r["artist"] for r in rows],
    )


def _cached_vectors(data: Path, rows: list[dict[str, str]], cache: Path) -> dict[str, Any]:
    known: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [r for r in rows if r["song_id"] not in known]
    started = time.process_time()
    for i, row in enumerate(todo, 1):
        known[row["song_id"]] = describe_file(data / row["file"]).vector
        if i % 40 == 0 or i == len(todo):
            print(f"  described {i}/{len(todo)} clips", file=sys.stderr)
    if todo:
        print(f"  {(time.process_time() - started) / len(todo):.3f} s CPU per clip",
              file=sys.stderr)  # fmt: skip
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return known


# -- L2 logistic regression (Newton steps), standardised inputs -------------------------------


def fit_logistic(z: Array, y: Array, lam: float) -> Array:
    n, p = z.shape
    zb = np.c_[z, np.ones(n)]
    w = np.zeros(p + 1)
    penalty = lam * np.r_[np.ones(p), 0.0]
    for _ in range(30):
        prob = 1 / (1 + np.exp(-np.clip(zb @ w, -60, 60)))
        gradient = zb.T @ (prob - y) + penalty * w
        hessian = (zb * (prob * (1 - prob))[:, None]).T @ zb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _standardise(x: Array, train: NDArray[np.bool_]) -> tuple[Array, Array, Array]:
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    return (x - mean) / std, mean, std


def _folds(artists: list[str], k: int, seed: int) -> NDArray[np.int64]:
    unique = sorted(set(artists))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {a: int(order[i] % k) for i, a in enumerate(unique)}
    return np.array([fold_of[a] for a in artists])


def _choose_lambda(x: Array, y: Array, artists: list[str], seed: int) -> float:
    folds = _folds(artists, 5, seed + 1000)
    scores = []
    for lam in LAMBDAS:
        right = 0
        for f in range(5):
            train = folds != f
            z, _, _ = _standardise(x, train)
            w = fit_logistic(z[train], y[train], lam)
            right += int(((np.c_[z[~train], np.ones((~train).sum())] @ w > 0) == y[~train]).sum())
        scores.append(right)
    return LAMBDAS[int(np.argmax(scores))]


def cross_validate(x: Array, y: Array, artists: list[str], seed: int, k: int = 10) -> Array:
    """Out-of-fold decisions (1 = high/positive), folds by artist, lambda chosen inside."""
    folds = _folds(artists, k, seed)
    decided = np.zeros(len(y))
    for f in range(k):
        train = folds != f
        inner_artists = [a for a, t in zip(artists, train, strict=True) if t]
        lam = _choose_lambda(x[train], y[train], inner_artists, seed)
        z, _, _ = _standardise(x, train)
        w = fit_logistic(z[train], y[train], lam)
        decided[~train] = np.c_[z[~train], np.ones((~train).sum())] @ w > 0
    return decided


def score(clips: Clips, x: Array, seeds: int) -> dict[str, float]:
    runs = []
    for seed in range(seeds):
        a = cross_validate(x, clips.arousal, clips.artists, seed) == clips.arousal
        v = cross_validate(x, clips.valence, clips.artists, seed) == clips.valence
        runs.append((a.mean(), v.mean(), (a & v).mean()))
    mean, spread = np.mean(runs, axis=0), np.std(runs, axis=0)
    return {
        "arousal": round(float(mean[0]), 3), "valence": round(float(mean[1]), 3),
        "quadrant": round(float(mean[2]), 3), "arousal_sd": round(float(spread[0]), 3),
        "valence_sd": round(float(spread[1]), 3), "quadrant_sd": round(float(spread[2]), 3),
    }  # fmt: skip


def fit_variant(clips: Clips, x: Array, names: list[str]) -> dict[str, Any]:
    everyone = np.ones(len(x), dtype=bool)
    z, mean, std = _standardise(x, everyone)
    spec: dict[str, Any] = {"features": names, "mean": mean.round(6).tolist(),
                            "std": std.round(6).tolist()}  # fmt: skip
    for axis, y in (("arousal", clips.arousal), ("valence", clips.valence)):
        lam = _choose_lambda(x, y, clips.artists, seed=0)
        w = fit_logistic(z, y, lam)
        spec[axis] = {"weights": w[:-1].round(6).tolist(), "bias": round(float(w[-1]), 6),
                      "lambda": lam}  # fmt: skip
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/music/calibrate.py",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=5, help="random artist splits to average")
    parser.add_argument("--write", action="store_true", help=f"write {MODEL_PATH.name}")
    args = parser.parse_args(argv)
    clips = load_clips(args.data)
    kept = clips.genres.sum(axis=0) >= 5  # a genre seen on fewer clips cannot be weighed
    genres = [g for g, k in zip(GENRE_ALIASES, kept, strict=True) if k]
    with_genre = np.c_[clips.x, clips.genres[:, kept]]
    print(f"{len(clips.artists)} clips by {len(set(clips.artists))} artists,"
          f" {len(clips.features)} audio features, {len(genres)} genres;"
          f" 10 folds by artist x {args.seeds} splits, lambda chosen inside each fold")  # fmt: skip
    print(f"quadrants: {dict(sorted(Counter(_quadrants(clips)).items()))}; chance 0.25")
    figures = {"audio": score(clips, clips.x, args.seeds),
               "genre": score(clips, with_genre, args.seeds)}  # fmt: skip
    print(f"{'variant':<16}{'arousal':>10}{'valence':>10}{'quadrant':>10}")
    for name, f in figures.items():
        label = "audio" if name == "audio" else "audio + genre"
        print(f"{label:<16}" + "".join(f"{f[k]:>6.3f}±{f[k + '_sd']:.2f}"
                                        for k in ("arousal", "valence", "quadrant")))  # fmt: skip
    if args.write:
        spec = {
            "model": MODEL_NAME, "source": SOURCE, "genres": genres,
            "fitted_by": "scripts/music/calibrate.py --write",
            "cross_validated_by_artist": figures,
            "variants": {
                "audio": fit_variant(clips, clips.x, clips.features),
                "genre": fit_variant(clips, with_genre,
                                     clips.features + [f"genre:{g}" for g in genres]),
            },
        }  # fmt: skip
        MODEL_PATH.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH}")
    return 0


def _quadrants(clips: Clips) -> list[str]:
    table = {(1.0, 1.0): "Q1", (1.0, 0.0): "Q2", (0.0, 0.0): "Q3", (0.0, 1.0): "Q4"}
    return [table[(a, v)] for a, v in zip(clips.arousal, clips.valence, strict=True)]


if __name__ == "__main__":
    sys.exit(main())
