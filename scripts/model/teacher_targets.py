"""Soft targets for distillation: the averaged, calibrated probabilities of several models.

Runs in the project venv (moodpi's own classifier: each model's sidecar temperature and flip
averaging apply), so any int8 model in models/ can teach, whatever trained it. Writes an .npz
with `probs` (N, 7) in the order of the split's faces, which `train_model.py --distill` mixes
into the one-hot labels. With `--split public_test` it reports how the ensemble itself scores,
which is the ceiling a distilled student can hope to approach.

    .venv/bin/python scripts/model/teacher_targets.py --model emotion_v13_int8.tflite \\
        --model retired/emotion_v10_int8.tflite --out train-runs/teacher_v13v10.npz
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from moodpi.lab.evaluate import model_file
from moodpi.lab.metrics import accuracy, confusion_matrix, macro_f1
from moodpi.perception.classify.emotion import EmotionClassifier

ROOT = Path(__file__).resolve().parents[2]


DATA_DIR = ROOT.parent / "shared" / "data" / "fer2013"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--model",
        action="append",
        required=True,
        help="a teacher: a .tflite path or a name in the models dir (repeat for an ensemble)",
    )
    p.add_argument("--split", default="train", help="train (targets) or public_test (a report)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--out", type=Path, help="write probs here (.npz)")
    return p.parse_args(argv)


def teacher_probs(path: Path, faces: np.ndarray) -> np.ndarray:
    classifier = EmotionClassifier.from_file(path, flip_average=True)
    return np.stack([classifier.classify(face) for face in faces]).astype(np.float32)


def summary(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    top = probs.argmax(1)
    return {
        "accuracy": round(accuracy(labels, top), 4),
        "macro_f1": round(macro_f1(confusion_matrix(labels, top, probs.shape[1])), 4),
    }


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    with np.load(a.data_dir / f"{a.split}.npz") as z:
        faces, labels = z["images"], z["labels"].astype(np.int64)
    members = []
    for name in a.model:
        t0 = time.monotonic()
        probs = teacher_probs(model_file(name), faces)
        members.append(probs)
        print(
            json.dumps(
                {
                    "model": name,
                    **summary(probs, labels),
                    "seconds": round(time.monotonic() - t0, 1),
                }
            )
        )
    ensemble = np.mean(members, axis=0)
    print(json.dumps({"model": "ensemble", **summary(ensemble, labels)}))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(a.out, probs=ensemble, labels=labels, models=np.array(a.model))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
