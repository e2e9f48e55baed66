"""Train a mini-XCEPTION emotion classifier on FER-2013 and export it as a full-integer int8 TFLite.

Runs in its own environment (see scripts/model/requirements-train.txt); the moodpi runtime never
imports TensorFlow. Training is deterministic for a given seed and resumable: every epoch saves a
checkpoint (model, optimizer, epoch) under train-runs/<run>/, and re-running the same command
continues from the newest one. Each epoch's data order and augmentation draw from stateless RNGs
seeded by (seed, epoch, batch), so a resumed run sees exactly the batches an uninterrupted one
would.

    TF_ENABLE_ONEDNN_OPTS=1 nice -n 5 .venv-tf/bin/python scripts/model/train_model.py --run v6 \
        --width 2.5 --stem 16 --stem-stride 2 --batch 128 --lr 3e-3 --epochs 40 \
        --erase-prob 0.15 --dropout 0.1 --class-weight-power 0.4 --threads 2  # see retired v6 card
    .venv-tf/bin/python scripts/model/train_model.py --run v6 --export  # emotion_v6_int8.tflite
    .venv/bin/python scripts/model/eval_emotion_model.py --run v6  # int8 metrics + sidecar

The default model, v10, is the same network at `--size 64`, distilled from v8, v7, v6, v3 and
v2 and finished with `--average 46`; its sidecar comes from `eval_emotion_model.py --run v10
--single`, as it runs without flip averaging (models/retired/MODEL_CARD_v10.md).

A finishing step: `--average FIRST_EPOCH` (with `--keep-checkpoints 0` while training) takes the
mean of the late epochs' weights and re-estimates the batch-norm statistics on clean training
faces, which the moving averages, gathered under augmentation, do not describe; `--export
--weights averaged` converts the result.

Camera domain (issue 20, run v11): `--light-prob`, `--blur-prob`, `--downscale-prob`,
`--noise-prob` and `--jpeg-prob` degrade a face as a Pi camera would (exposure and gamma, optics
blur, a far face area-downscaled to 16-40 px and enlarged again, sensor noise, JPEG at quality
30-90), each with its own probability and range flags; at the default probability 0 the op is
not built, so older runs reproduce. Their random draws are folded into the batch seed, so resume
stays exact. Detector crop jitter is the existing affine: `--shift-px 4.8 --scale 0.17` gives
shifts up to 10 % and crop scales of about 0.85-1.2. `--real-faces NPZ` (from
scripts/model/prep_real_faces.py: real photographs cut by the runtime's own BlazeFace crop, split by
person) puts `--real-share` of every batch from the split's training side, with one-hot targets
smoothed by `--real-smoothing`; the validation side is never trained on, its file lists are
written to train-runs/<run>/lfw_{train,val}_files.txt and its single-face accuracy and mean
per-class recall are logged every epoch (`lfw_acc`, `lfw_mean_recall`). Pass the same
`--real-faces` to `--average`, whose batch-norm re-estimate then includes the real faces.
scripts/model/train_resume_loop.sh re-runs a command until it exits 0, which resumes after a crash.

FER+ votes (issue 28, run v14): `--ferplus DIR` (../shared/data/ferplus, row-aligned with the
FER-2013 files) trains on what ten crowd workers saw instead of the one original label: the
target is the distribution of each face's votes over the seven classes (FER+'s "probability"
mode), after dropping single votes (`--vote-min 2`, FER+'s outlier removal) and contempt; faces
with no FER+ twin, or whose votes are mostly unknown / not-a-face / contempt, are left out. The
class weights follow each face's top vote. PublicTest is then scored against the clear majority
(`fp_acc`, `fp_macro_f1`) as well as the original labels, and the best epoch is chosen by
`fp_acc`.

The model's output is logits (no softmax) so that the runtime can apply the fitted temperature.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN kernels of TF 2.15 once corrupted the heap training this model at batch 64 (segfault in
# fit), so they are off unless asked for. TF_ENABLE_ONEDNN_OPTS=1 halves the epoch time; run v3
# (batch 128, two threads) trained with it without a crash, under a loop that resumes on one.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
import tensorflow as tf

LOG = logging.getLogger("train_model")
ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT.parent / "shared" / "data" / "fer2013"
FERPLUS_DIR = ROOT.parent / "shared" / "data" / "ferplus"
# FER+ vote columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt,
# unknown, not-a-face; the first seven in FER-2013 class order:
FERPLUS_TO_FER = (6, 3, 5, 4, 0, 1, 2)
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(LABELS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", required=True, help="run name: checkpoints in train-runs/<run>/")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--size", type=int, choices=(48, 64), default=48, help="input side in pixels")
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    p.add_argument("--stem", type=int, default=0,
                   help="channels of the two stem convs (0: scale with --width)")
    p.add_argument("--stem-stride", type=int, choices=(1, 2), default=1,
                   help="2: the second stem conv halves the resolution (about 1/3 the cost)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW decoupled weight decay")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--class-weight-power", type=float, default=0.3,
                   help="loss weight per class (n_max/n_c)**power; 0 = unweighted")
    p.add_argument("--shift-px", type=float, default=4.0, help="random shift (crop), pixels at 48")
    p.add_argument("--rotate-deg", type=float, default=10.0)
    p.add_argument("--scale", type=float, default=0.1, help="random zoom in [1-s, 1+s]")
    p.add_argument("--brightness", type=float, default=0.2, help="fraction of full range")
    p.add_argument("--contrast", type=float, default=0.2)
    p.add_argument("--erase-prob", type=float, default=0.3, help="random erasing probability")
    p.add_argument("--mixup", type=float, default=0.0, help="mixup Beta(a, a); 0 = off")
    cam = p.add_argument_group(
        "camera-domain augmentations (each off at probability 0, so older runs reproduce; "
        "order: light, blur, downscale, noise, JPEG, after the affine and brightness/contrast)")
    cam.add_argument("--light-prob", type=float, default=0.0,
                     help="probability of a low-light / exposure change (gain, then gamma)")
    cam.add_argument("--light-gain", type=float, nargs=2, default=(0.4, 1.6), metavar=("LO", "HI"))
    cam.add_argument("--gamma", type=float, nargs=2, default=(0.6, 1.6), metavar=("LO", "HI"),
                     help="gamma range (drawn log-uniform)")
    cam.add_argument("--blur-prob", type=float, default=0.0, help="probability of Gaussian blur")
    cam.add_argument("--blur-sigma", type=float, default=2.0,
                     help="largest blur sigma, pixels at 48 (drawn uniform from 0.3)")
    cam.add_argument("--downscale-prob", type=float, default=0.0,
                     help="probability of a far face: area-downscale to --downscale-px, "
                          "bilinear back up")
    cam.add_argument("--downscale-px", type=int, nargs=2, default=(16, 40), metavar=("LO", "HI"),
                     help="side range of the small face, pixels (steps of 4)")
    cam.add_argument("--noise-prob", type=float, default=0.0,
                     help="probability of additive Gaussian sensor noise")
    cam.add_argument("--noise-sigma", type=float, default=10.0,
                     help="largest noise sigma in 0..255 units (drawn uniform)")
    cam.add_argument("--jpeg-prob", type=float, default=0.0, help="probability of JPEG re-encoding")
    cam.add_argument("--jpeg-quality", type=int, nargs=2, default=(30, 90), metavar=("LO", "HI"))
    real = p.add_argument_group("real photographs (scripts/model/prep_real_faces.py)")
    real.add_argument("--real-faces", type=Path,
                      help=".npz of runtime-cut real faces with a person-disjoint split; its "
                           "'train' faces fill --real-share of each batch, 'val' is only evaluated")
    real.add_argument("--real-share", type=float, default=0.15,
                      help="fraction of each batch drawn from the real training faces")
    real.add_argument("--real-smoothing", type=float, default=0.15,
                      help="label smoothing of the real faces' one-hot targets (noisy labels)")
    real.add_argument("--real-balance", type=float, default=0.0,
                      help="draw a real face of class c with weight count(c)^-POWER (0 = uniform; "
                           "1 = every class equally often)")
    real.add_argument("--real-calib-percent", type=int, default=0,
                      help="leave the training-side persons whose name hash is in "
                           "[val_percent, val_percent + N) out of training: the calibration side "
                           "scripts/model/fit_temperature.py fits the temperature on")
    p.add_argument("--ferplus", type=Path, nargs="?", const=FERPLUS_DIR,
                   help="train on FER+ vote distributions (folder of row-aligned votes .npz)")
    p.add_argument("--original-weight", type=float, default=0.0,
                   help="with --ferplus: weight of the original label (one-hot) against the votes")
    p.add_argument("--vote-min", type=int, default=2,
                   help="with --ferplus: votes below this count are dropped as outliers")
    p.add_argument("--distill", type=Path,
                   help="soft targets from scripts/model/teacher_targets.py (.npz with probs)")
    p.add_argument("--distill-alpha", type=float, default=0.5,
                   help="weight of the teacher's probabilities against the one-hot label")
    p.add_argument("--scale-mode", choices=("minus1_1", "zero_1"), default="minus1_1")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--threads", type=int, default=1, help="TF intra/inter op threads")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (throughput test)")
    p.add_argument("--keep-checkpoints", type=int, default=2,
                   help="epoch checkpoints kept in ckpt/ (0: all, for --average)")
    p.add_argument("--init-weights", type=Path, metavar="H5",
                   help="start from these weights (e.g. train-runs/v14/averaged.weights.h5, the "
                        "same network) instead of random ones: a fine-tuning run")
    p.add_argument("--average", type=int, metavar="FIRST_EPOCH",
                   help="average the weights of epochs FIRST_EPOCH..last into averaged.weights.h5")
    p.add_argument("--export", action="store_true", help="export the best epoch to models/")
    p.add_argument("--weights", choices=("best", "averaged"), default="best",
                   help="what --export converts: the best epoch or the --average result")
    p.add_argument("--calib-faces", type=int, default=500)
    p.add_argument("--out", type=Path, help="export to (default: models/emotion_<run>_int8.tflite)")
    a = p.parse_args(argv)
    a.out = a.out or ROOT / "models" / f"emotion_{a.run}_int8.tflite"
    return a


# ---------------------------------------------------------------- data


def load_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(data_dir / f"{split}.npz") as z:
        return z["images"].astype(np.uint8), z["labels"].astype(np.int64)


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-class loss weights (n_max/n_c)**power, normalised to mean 1 over the training set."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    w = (counts.max() / counts) ** power
    w /= (w[labels]).mean()
    return w.astype(np.float32)


def normalise(x: tf.Tensor, mode: str) -> tf.Tensor:
    """uint8-range float pixels -> network input range (the sidecar's `scale`)."""
    return x / 127.5 - 1.0 if mode == "minus1_1" else x / 255.0


def resize(x: tf.Tensor, size: int) -> tf.Tensor:
    return x if size == 48 else tf.image.resize(x, (size, size), method="bilinear")


def _affine(x: tf.Tensor, seed: tf.Tensor, a: argparse.Namespace) -> tf.Tensor:
    """Random rotation, zoom and shift about the centre, one draw per image (stateless)."""
    n = tf.shape(x)[0]
    side = tf.cast(tf.shape(x)[1], tf.float32)
    r = tf.random.stateless_uniform((n, 4), seed, -1.0, 1.0)
    theta = r[:, 0] * a.rotate_deg * math.pi / 180.0
    inv_scale = 1.0 / (1.0 + r[:, 1] * a.scale)
    px = a.shift_px * side / 48.0
    tx, ty = r[:, 2] * px, r[:, 3] * px
    c = (side - 1.0) / 2.0
    cos, sin = tf.cos(theta) * inv_scale, tf.sin(theta) * inv_scale
    # output pixel (x, y) samples input at R(theta)/s * (p - c) + c + t
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = c - a0 * c - a1 * c + tx
    b2 = c - b0 * c - b1 * c + ty
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.shape(x)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")


def _erase(x: tf.Tensor, seed: tf.Tensor, prob: float) -> tf.Tensor:
    """Random erasing: one rectangle (2-15 % of the area) per chosen image, filled with noise."""
    n, side = tf.shape(x)[0], tf.shape(x)[1]
    sidef = tf.cast(side, tf.float32)
    r = tf.random.stateless_uniform((n, 5), seed)
    area = (0.02 + 0.13 * r[:, 0]) * sidef * sidef
    aspect = tf.exp((r[:, 1] - 0.5) * 2.0 * math.log(3.0))
    h = tf.minimum(tf.sqrt(area * aspect), sidef)
    w = tf.minimum(tf.sqrt(area / aspect), sidef)
    y0 = r[:, 2] * (sidef - h)
    x0 = r[:, 3] * (sidef - w)
    grid = tf.cast(tf.range(side), tf.float32)
    in_y = (grid[None, :] >= y0[:, None]) & (grid[None, :] < (y0 + h)[:, None])
    in_x = (grid[None, :] >= x0[:, None]) & (grid[None, :] < (x0 + w)[:, None])
    mask = in_y[:, :, None] & in_x[:, None, :] & (r[:, 4] < prob)[:, None, None]
    noise = tf.random.stateless_uniform(tf.shape(x), seed + 7, 0.0, 255.0)
    return tf.where(mask[..., None], noise, x)


def _chosen(n: tf.Tensor, seed: tf.Tensor, prob: float) -> tf.Tensor:
    """(N, 1, 1, 1) bool: which images of the batch get an augmentation."""
    return (tf.random.stateless_uniform((n,), seed) < prob)[:, None, None, None]


def _blur(x: tf.Tensor, seed: tf.Tensor, max_sigma: float) -> tf.Tensor:
    """Separable Gaussian blur with a sigma per image (the batch runs as channels of one image)."""
    n = tf.shape(x)[0]
    radius = max(1, math.ceil(3.0 * max_sigma))
    sigma = tf.random.stateless_uniform((n,), seed, min(0.3, max_sigma), max_sigma)
    t = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * (t[:, None] / sigma[None, :]) ** 2)
    k = k / tf.reduce_sum(k, axis=0, keepdims=True)  # (K, N)
    y = tf.transpose(x, [3, 1, 2, 0])  # (1, H, W, N)
    y = tf.pad(y, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    y = tf.nn.depthwise_conv2d(y, k[:, None, :, None], [1, 1, 1, 1], "VALID")
    y = tf.nn.depthwise_conv2d(y, k[None, :, :, None], [1, 1, 1, 1], "VALID")
    return tf.transpose(y, [3, 1, 2, 0])


def _downscale(x: tf.Tensor, seed: tf.Tensor, lo: int, hi: int) -> tf.Tensor:
    """A far face: area-averaged down to a side in lo..hi (steps of 4), bilinear back up."""
    side = tf.shape(x)[1:3]
    sizes = list(range(lo, hi + 1, 4)) or [lo]
    pick = tf.random.stateless_uniform((tf.shape(x)[0],), seed, 0, len(sizes), dtype=tf.int32)
    out = x
    for i, s in enumerate(sizes):
        small = tf.image.resize(x, (s, s), method="area")
        big = tf.image.resize(small, side, method="bilinear")
        out = tf.where((pick == i)[:, None, None, None], big, out)
    return out


def _jpeg(x: tf.Tensor, seed: tf.Tensor, lo: int, hi: int, chosen: tf.Tensor) -> tf.Tensor:
    """JPEG re-encoding at a quality per image (lo..hi), only for the chosen images."""
    q = tf.random.stateless_uniform((tf.shape(x)[0],), seed, lo, hi + 1, dtype=tf.int32)
    xu = tf.cast(tf.round(x), tf.uint8)

    def one(args: tuple) -> tf.Tensor:
        img, quality, c = args
        return tf.cond(c, lambda: tf.image.adjust_jpeg_quality(img, quality), lambda: img)

    y = tf.map_fn(one, (xu, q, chosen[:, 0, 0, 0]), fn_output_signature=tf.uint8)
    return tf.where(chosen, tf.cast(tf.reshape(y, tf.shape(x)), tf.float32), x)


def camera(x: tf.Tensor, seed: tf.Tensor, a: argparse.Namespace) -> tf.Tensor:
    """Camera-domain degradations, each with its own probability (0: the op is not built).

    Seeds are folded in from the batch seed (not seed + k, whose small offsets are taken by the
    older augmentations and would collide with the next batch's), so resume stays exact.
    """
    n = tf.shape(x)[0]

    def sub(k: int) -> tf.Tensor:
        return tf.random.experimental.stateless_fold_in(seed, 100 + k)

    if a.light_prob > 0:
        r = tf.random.stateless_uniform((n, 2), sub(0))
        gain = a.light_gain[0] + (a.light_gain[1] - a.light_gain[0]) * r[:, 0]
        lg = math.log(a.gamma[0]) + (math.log(a.gamma[1]) - math.log(a.gamma[0])) * r[:, 1]
        y = 255.0 * tf.pow(x / 255.0, tf.exp(lg)[:, None, None, None]) * gain[:, None, None, None]
        x = tf.where(_chosen(n, sub(1), a.light_prob), tf.clip_by_value(y, 0.0, 255.0), x)
    if a.blur_prob > 0:
        x = tf.where(_chosen(n, sub(2), a.blur_prob), _blur(x, sub(3), a.blur_sigma), x)
    if a.downscale_prob > 0:
        x = tf.where(_chosen(n, sub(4), a.downscale_prob),
                     _downscale(x, sub(5), *a.downscale_px), x)
    if a.noise_prob > 0:
        sigma = tf.random.stateless_uniform((n, 1, 1, 1), sub(6), 0.0, a.noise_sigma)
        noisy = x + sigma * tf.random.stateless_normal(tf.shape(x), sub(7))
        x = tf.where(_chosen(n, sub(8), a.noise_prob), tf.clip_by_value(noisy, 0.0, 255.0), x)
    if a.jpeg_prob > 0:
        x = _jpeg(x, sub(9), *a.jpeg_quality, _chosen(n, sub(10), a.jpeg_prob))
    return x


def augment(x: tf.Tensor, seed: tf.Tensor, a: argparse.Namespace) -> tf.Tensor:
    """A batch of uint8-range float images (N, 48, 48, 1) -> augmented, same range."""
    n = tf.shape(x)[0]
    flip = tf.random.stateless_uniform((n, 1, 1, 1), seed + 1) < 0.5
    x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    x = _affine(x, seed + 2, a)
    bc = tf.random.stateless_uniform((n, 2), seed + 3, -1.0, 1.0)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    contrast = 1.0 + a.contrast * bc[:, 0][:, None, None, None]
    bright = a.brightness * 255.0 * bc[:, 1][:, None, None, None]
    x = tf.clip_by_value((x - mean) * contrast + mean + bright, 0.0, 255.0)
    x = camera(x, seed, a)
    if a.erase_prob > 0:
        x = _erase(x, seed + 4, a.erase_prob)
    return x


def load_targets(labels: np.ndarray, a: argparse.Namespace) -> np.ndarray:
    """Training targets: one-hot, or mixed with a teacher's probabilities (distillation).

    The teacher saw each face and its mirror image (flip averaging), so its targets hold for
    either; for the other augmentations they are an approximation, as with any offline teacher.
    """
    onehot = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    if a.distill is None:
        return onehot
    with np.load(a.distill) as z:
        probs, teacher_labels = z["probs"].astype(np.float32), z["labels"]
    if probs.shape != onehot.shape or not np.array_equal(teacher_labels, labels):
        raise SystemExit(f"{a.distill} does not match the training split")
    LOG.info("distilling from %s (alpha %.2f): teacher accuracy on train %.4f", a.distill,
             a.distill_alpha, float((probs.argmax(1) == labels).mean()))
    return (1.0 - a.distill_alpha) * onehot + a.distill_alpha * probs


def vote_targets(votes: np.ndarray, matched: np.ndarray, vote_min: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """FER+ votes (N, 10) -> (targets (N, 7) in FER-2013 order, keep mask).

    A face is kept when it has a FER+ twin and, after dropping votes under `vote_min`, the
    seven emotions hold more than half of its votes (not mostly unknown, not-a-face or contempt).
    """
    v = np.where(votes >= vote_min, votes, 0).astype(np.float32)
    seven = np.zeros((len(v), NUM_CLASSES), np.float32)
    seven[:, list(FERPLUS_TO_FER)] = v[:, :7]
    total = v.sum(axis=1)
    keep = matched & (seven.sum(axis=1) * 2 > total) & (total > 0)
    targets = seven / np.maximum(seven.sum(axis=1, keepdims=True), 1e-6)
    return targets, keep


def load_votes(a: argparse.Namespace, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(targets, keep, majority) of one split from --ferplus, checked row by row."""
    with np.load(a.ferplus / f"{split}.npz") as z:
        votes, matched, majority, names = z["votes"], z["matched"], z["majority"], z["names"]
    with np.load(a.data_dir / f"{split}.npz") as z:
        if not np.array_equal(z["names"], names):
            raise SystemExit(f"{a.ferplus / split}.npz is not row-aligned with the FER-2013 faces")
    targets, keep = vote_targets(votes, matched, a.vote_min)
    return targets, keep, majority.astype(np.int64)


def real_per_batch(a: argparse.Namespace) -> int:
    return round(a.batch * a.real_share) if a.real_faces else 0


class RealFaces:
    """One side of a prep_real_faces.py split: images (N, 48, 48) uint8, labels, targets."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, files: np.ndarray,
                 detected: np.ndarray, smoothing: float) -> None:
        self.images, self.labels, self.files, self.detected = images, labels, files, detected
        onehot = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
        self.targets = (1.0 - smoothing) * onehot + smoothing / NUM_CLASSES


def load_real(a: argparse.Namespace, run_dir: Path | None = None
              ) -> tuple[RealFaces, RealFaces] | None:
    """(train, val) sides of --real-faces; re-checks that no person is on both sides and that
    the split is the name hash's, and writes both file lists into the run folder."""
    if not a.real_faces:
        return None
    sys.path.insert(0, str(ROOT / "scripts"))
    from prep_real_faces import is_val_person  # same rule as the prep step (no moodpi import)

    with np.load(a.real_faces) as z:
        images, labels, files = z["images"], z["labels"].astype(np.int64), z["files"]
        persons, split, detected = z["persons"], z["split"], z["detected"]
        val_percent = int(z["val_percent"])
    if images.shape[1:] != (48, 48):
        raise SystemExit(f"{a.real_faces}: faces must be 48x48, got {images.shape[1:]}")
    expect = np.array(["val" if is_val_person(str(p), val_percent) else "train" for p in persons])
    if not np.array_equal(expect, split):
        raise SystemExit(f"{a.real_faces}: split is not the person-name hash split")
    if set(persons[split == "train"]) & set(persons[split == "val"]):
        raise SystemExit(f"{a.real_faces}: a person is on both sides")
    sides = []
    calib = np.array([is_val_person(str(p), val_percent + a.real_calib_percent) for p in persons])
    calib &= split == "train"
    if calib.any():
        LOG.info("real faces calib: %d photos of %d persons held out of training",
                 int(calib.sum()), len(set(persons[calib])))
    for side in ("train", "val"):
        # photos with no face found by the detector (about 0.5 %) are left out of both sides:
        # the runtime would never classify them
        m = (split == side) & detected & ~calib
        sides.append(RealFaces(images[m], labels[m], files[m], detected[m], a.real_smoothing))
        if run_dir is not None:
            (run_dir / f"lfw_{side}_files.txt").write_text("\n".join(files[m].tolist()) + "\n")
        LOG.info("real faces %s: %d photos of %d persons (%d undetected left out), per class %s",
                 side, int(m.sum()), len(set(persons[m])), int(((split == side) & ~detected).sum()),
                 np.bincount(labels[m], minlength=NUM_CLASSES).tolist())
    return sides[0], sides[1]


def train_dataset(images: np.ndarray, targets: np.ndarray, labels: np.ndarray, cw: np.ndarray,
                  epoch: int, a: argparse.Namespace,
                  real: RealFaces | None = None) -> tf.data.Dataset:
    """One epoch of augmented batches; order and augmentation depend only on (seed, epoch).

    With real faces, each batch is batch - k FER faces (one pass over FER per epoch) followed by
    k = round(batch * real_share) real training faces drawn with replacement by an RNG seeded
    by (seed, epoch); both parts go through the same augmentation.
    """
    order = np.random.default_rng([a.seed, epoch]).permutation(len(images))
    k = real_per_batch(a) if real is not None else 0
    per = a.batch - k
    n_batches = len(order) // per
    order = order[: n_batches * per]
    imgs = images[order][..., None]
    onehot = targets[order]
    weights = cw[labels[order]]
    if k:
        rng = np.random.default_rng([a.seed, epoch, 1])
        if a.real_balance:  # rare classes (disgust, fear) drawn more often than their share
            counts = np.bincount(real.labels, minlength=NUM_CLASSES).astype(np.float64)
            draw = np.maximum(counts, 1.0)[real.labels] ** -a.real_balance
            pick = rng.choice(len(real.images), (n_batches, k), p=draw / draw.sum())
        else:  # as v11 was trained
            pick = rng.integers(0, len(real.images), (n_batches, k))

        def interleave(fer: np.ndarray, extra: np.ndarray) -> np.ndarray:
            fer = fer.reshape(n_batches, per, *fer.shape[1:])
            extra = extra[pick]
            return np.concatenate([fer, extra], axis=1).reshape(-1, *fer.shape[2:])

        imgs = interleave(imgs, real.images[..., None])
        onehot = interleave(onehot, real.targets)
        weights = interleave(weights, cw[real.labels])
    ds = tf.data.Dataset.from_tensor_slices((imgs, onehot, weights)).batch(a.batch)

    def prep(i: tf.Tensor, batch: tuple) -> tuple:
        x, y, w = batch
        seed = tf.stack([tf.cast(a.seed * 1000 + epoch, tf.int64), i]) * 10
        x = augment(tf.cast(x, tf.float32), seed, a)
        if a.mixup > 0:
            g1 = tf.random.stateless_gamma((1,), seed + 5, alpha=a.mixup)
            g2 = tf.random.stateless_gamma((1,), seed + 6, alpha=a.mixup)
            lam = g1 / (g1 + g2)
            x = lam * x + (1 - lam) * tf.reverse(x, [0])
            y = lam * y + (1 - lam) * tf.reverse(y, [0])
            w = lam * w + (1 - lam) * tf.reverse(w, [0])
        return normalise(resize(x, a.size), a.scale_mode), y, w

    return ds.enumerate().map(prep, num_parallel_calls=1).prefetch(2)


# ---------------------------------------------------------------- model


def build_model(size: int, width: float, dropout: float, stem: int = 0,
                stem_stride: int = 1) -> tf.keras.Model:
    """mini-XCEPTION (Arriaga et al. 2017) with BN, a width multiplier and a dense logit head.

    `stem` fixes the channels of the two stem convolutions (0: scale with width). At full
    resolution these and the first block run on every pixel and dominate the cost: at width 2 a
    16-channel stem costs about as much as all four residual blocks together. `stem_stride` 2
    makes the second stem convolution halve the resolution, so every block runs on a quarter of
    the pixels (measured here, one thread: width 2 from 0.91 to 0.25 ms per invoke), which buys
    width within the latency budget.
    """
    layers = tf.keras.layers

    def ch(c: int) -> int:
        # rounds to multiples of 8 (XNNPACK-friendly); the 8-channel stem stays 8 up to width 1.5
        return max(8, int(c * width / 8 + 0.25) * 8)

    stem_ch = stem or ch(8)

    def conv_bn(x: tf.Tensor, c: int, k: int, strides: int = 1, relu: bool = True) -> tf.Tensor:
        x = layers.Conv2D(c, k, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x) if relu else x

    inp = tf.keras.Input((size, size, 1), name="face")
    x = conv_bn(inp, stem_ch, 3)
    x = conv_bn(x, stem_ch, 3, strides=stem_stride)
    for c in (16, 32, 64, 128):
        residual = conv_bn(x, ch(c), 1, strides=2, relu=False)
        x = layers.SeparableConv2D(ch(c), 3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.SeparableConv2D(ch(c), 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.ReLU()(layers.Add()([x, residual]))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(NUM_CLASSES, name="logits")(x)
    return tf.keras.Model(inp, out, name=f"mini_xception_{size}_w{width:g}")


def make_optimizer(a: argparse.Namespace, steps_per_epoch: int) -> tf.keras.optimizers.Optimizer:
    total = max(1, a.epochs * steps_per_epoch)
    warm = min(int(a.warmup_epochs * steps_per_epoch), total - 1)
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=a.lr * 0.01, decay_steps=total - warm, alpha=0.0,
        warmup_target=a.lr, warmup_steps=warm)
    opt = tf.keras.optimizers.AdamW(learning_rate=schedule, weight_decay=a.weight_decay)
    # no decay on BN parameters and biases: they are scales, not filters
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


# ---------------------------------------------------------------- evaluation


def predict_logits(model: tf.keras.Model, images: np.ndarray, a: argparse.Namespace,
                   flip: bool = False) -> np.ndarray:
    x = images[..., None].astype(np.float32)
    if flip:
        x = x[:, :, ::-1]
    x = normalise(resize(tf.constant(x), a.size), a.scale_mode)
    return model.predict(x, batch_size=256, verbose=0)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def macro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    f1s = []
    for c in range(NUM_CLASSES):
        tp = float(((pred == c) & (truth == c)).sum())
        denom = float((pred == c).sum() + (truth == c).sum())
        if (truth == c).any():
            f1s.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1s))


def evaluate(model: tf.keras.Model, images: np.ndarray, labels: np.ndarray,
             a: argparse.Namespace, majority: np.ndarray | None = None) -> dict[str, float]:
    z = predict_logits(model, images, a)
    zf = predict_logits(model, images, a, flip=True)
    p = softmax(z)
    pf = softmax((z + zf) / 2)  # the runtime averages the two logit vectors
    nll = -np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean()
    out = {"val_acc": float((p.argmax(1) == labels).mean()),
           "val_acc_flip": float((pf.argmax(1) == labels).mean()),
           "val_nll": float(nll)}
    if majority is not None:  # FER+: faces with a clear majority, single face as the runtime
        m = majority >= 0
        out["fp_acc"] = float((p.argmax(1)[m] == majority[m]).mean())
        out["fp_acc_flip"] = float((pf.argmax(1)[m] == majority[m]).mean())
        out["fp_macro_f1"] = macro_f1(p.argmax(1)[m], majority[m])
    return out


def real_metrics(model: tf.keras.Model, val: RealFaces, a: argparse.Namespace) -> dict[str, float]:
    """Held-out real photos: accuracy (single face, as the runtime runs v10) and the mean
    recall over the classes present (happy and neutral are four fifths of the photos)."""
    top = predict_logits(model, val.images, a).argmax(1)
    recalls = [float((top[val.labels == c] == c).mean()) for c in range(NUM_CLASSES)
               if (val.labels == c).any()]
    return {"lfw_acc": float((top == val.labels).mean()),
            "lfw_mean_recall": float(np.mean(recalls))}


# ---------------------------------------------------------------- training


def setup(a: argparse.Namespace, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(sys.stdout),
                                  logging.FileHandler(run_dir / "train.log")])
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    tf.keras.utils.set_random_seed(a.seed)


def train(a: argparse.Namespace, run_dir: Path) -> None:
    x_tr, y_tr = load_split(a.data_dir, "train")
    x_va, y_va = load_split(a.data_dir, "public_test")
    majority_va = None
    if a.ferplus:
        targets, keep, _ = load_votes(a, "train")
        original = np.eye(NUM_CLASSES, dtype=np.float32)[y_tr[keep]]
        votes = targets[keep]
        x_tr, y_tr = x_tr[keep], votes.argmax(1)
        targets = (1.0 - a.original_weight) * votes + a.original_weight * original
        majority_va = load_votes(a, "public_test")[2]
        LOG.info("FER+ votes: %d of %d training faces kept; top vote per class %s", len(x_tr),
                 len(keep), np.bincount(y_tr, minlength=NUM_CLASSES).tolist())
    else:
        targets = load_targets(y_tr, a)
    cw = class_weights(y_tr, a.class_weight_power)
    real = load_real(a, run_dir)
    steps = len(x_tr) // (a.batch - (real_per_batch(a) if real else 0))
    hp = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
    hp_path = run_dir / "hparams.json"
    if hp_path.exists() and a.max_steps == 0:
        LOG.info("resuming run; saved hyper-parameters: %s", hp_path.read_text())
    hp_path.write_text(json.dumps(hp, indent=2))
    LOG.info("hyper-parameters: %s", json.dumps(hp))
    LOG.info("class weights: %s", dict(zip(LABELS, np.round(cw, 3).tolist(), strict=True)))

    model = build_model(a.size, a.width, a.dropout, a.stem, a.stem_stride)
    LOG.info("model %s: %d parameters", model.name, model.count_params())
    opt = make_optimizer(a, steps)
    loss = tf.keras.losses.CategoricalCrossentropy(from_logits=True,
                                                   label_smoothing=a.label_smoothing)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"], jit_compile=False)
    epoch_var = tf.Variable(0, dtype=tf.int64, name="epoch")
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, str(run_dir / "ckpt"),
                                         max_to_keep=a.keep_checkpoints or None)
    if manager.latest_checkpoint and a.max_steps == 0:
        ckpt.restore(manager.latest_checkpoint).expect_partial()
        LOG.info("restored %s at epoch %d", manager.latest_checkpoint, int(epoch_var.numpy()))
    elif a.init_weights:
        model.load_weights(a.init_weights)
        LOG.info("fine-tuning from %s: %s", a.init_weights,
                 json.dumps(evaluate(model, x_va, y_va, a, majority_va)))
    state_path = run_dir / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"best": -1.0}

    for epoch in range(int(epoch_var.numpy()), a.epochs):
        t0 = time.monotonic()
        ds = train_dataset(x_tr, targets, y_tr, cw, epoch, a, real[0] if real else None)
        if a.max_steps:
            ds = ds.take(a.max_steps)
        hist = model.fit(ds, epochs=epoch + 1, initial_epoch=epoch, verbose=2)
        train_s = time.monotonic() - t0
        if a.max_steps:
            LOG.info("throughput: %d steps of %d in %.1f s = %.1f ms/step; %.1f min/epoch",
                     a.max_steps, a.batch, train_s, 1000 * train_s / a.max_steps,
                     train_s / a.max_steps * steps / 60)
            return
        metrics = evaluate(model, x_va, y_va, a, majority_va)
        if real:
            metrics.update(real_metrics(model, real[1], a))
        row = {"epoch": epoch + 1, "loss": hist.history["loss"][-1],
               "acc": hist.history["accuracy"][-1], **metrics,
               "lr": float(opt.learning_rate.numpy()) if hasattr(opt.learning_rate, "numpy")
               else float(opt._decayed_lr(tf.float32).numpy()),
               "epoch_s": round(time.monotonic() - t0, 1)}
        LOG.info("epoch %s", json.dumps(row))
        write_history(run_dir / "history.csv", row)
        score = metrics["fp_acc"] if a.ferplus else metrics["val_acc_flip"]
        if score > state["best"]:
            state = {"best": score, "epoch": epoch + 1, **metrics}
            model.save_weights(run_dir / "best.weights.h5")
            LOG.info("new best %.4f at epoch %d", score, epoch + 1)
        epoch_var.assign(epoch + 1)
        manager.save(checkpoint_number=epoch + 1)
        state_path.write_text(json.dumps(state, indent=2))
    LOG.info("done; best %s", json.dumps(state))


def write_history(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def rebuild_model(a: argparse.Namespace, run_dir: Path) -> tf.keras.Model:
    """The run's network from its saved hyper-parameters (which also set `a`'s input options)."""
    hp = json.loads((run_dir / "hparams.json").read_text())
    for key in ("size", "width", "dropout", "scale_mode"):
        setattr(a, key, hp[key])
    a.stem, a.stem_stride = hp.get("stem", 0), hp.get("stem_stride", 1)  # not in runs before v5
    return build_model(a.size, a.width, a.dropout, a.stem, a.stem_stride)


# ---------------------------------------------------------------- weight averaging


def average(a: argparse.Namespace, run_dir: Path) -> None:
    """Mean of the weights of epochs a.average..last (SWA-style), with fresh BN statistics.

    Late epochs of one cosine run lie in one basin, so their mean is a flatter point than any
    of them. The averaged moving statistics do not match the averaged weights, so they are
    re-estimated on the un-augmented training faces (and their mirrors, which the runtime also
    sees) as an exact running mean over batches.
    """
    model = rebuild_model(a, run_dir)
    paths = checkpoints_from(run_dir / "ckpt", a.average)
    ckpt = tf.train.Checkpoint(model=model)
    total = None
    for path in paths.values():
        ckpt.restore(str(path)).expect_partial()
        ws = [w.astype(np.float64) for w in model.get_weights()]
        total = ws if total is None else [t + w for t, w in zip(total, ws, strict=True)]
    model.set_weights([t / len(paths) for t in total])
    x_tr, _ = load_split(a.data_dir, "train")
    real = load_real(a)
    if real:  # the batch statistics also saw real faces in training, about real_share of them
        reps = max(1, round(len(x_tr) * a.real_share / (1 - a.real_share) / len(real[0].images)))
        x_tr = np.concatenate([x_tr, *[real[0].images] * reps])
    refresh_batchnorm(model, x_tr, a)
    x_va, y_va = load_split(a.data_dir, "public_test")
    majority_va = load_votes(a, "public_test")[2] if a.ferplus else None
    metrics = evaluate(model, x_va, y_va, a, majority_va)
    if real:
        metrics.update(real_metrics(model, real[1], a))
    model.save_weights(run_dir / "averaged.weights.h5")
    info = {"epochs": [min(paths), max(paths)], "n": len(paths), **metrics}
    (run_dir / "averaged.json").write_text(json.dumps(info, indent=2))
    LOG.info("averaged %d checkpoints: %s", len(paths), json.dumps(info))


def checkpoints_from(ckpt_dir: Path, first: int) -> dict[int, Path]:
    """Epoch -> checkpoint prefix for every kept epoch from `first` on."""
    found = {int(p.name[5:-6]): p.with_suffix("") for p in ckpt_dir.glob("ckpt-*.index")}
    chosen = {e: p for e, p in sorted(found.items()) if e >= first}
    if not chosen:
        raise SystemExit(f"no checkpoint from epoch {first} on in {ckpt_dir}; "
                         f"kept: {sorted(found)} (train with --keep-checkpoints 0)")
    return chosen


def refresh_batchnorm(model: tf.keras.Model, images: np.ndarray, a: argparse.Namespace,
                      batch: int = 256) -> None:
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    saved = [bn.momentum for bn in bns]
    x = images[..., None].astype(np.float32)
    x = np.concatenate([x, x[:, :, ::-1]])
    x = x[np.random.default_rng(a.seed).permutation(len(x))]
    for i, start in enumerate(range(0, len(x) - batch + 1, batch)):
        for bn in bns:
            bn.momentum = i / (i + 1)  # moving = mean of the batch statistics so far
        model(normalise(resize(tf.constant(x[start:start + batch]), a.size), a.scale_mode),
              training=True)
    for bn, momentum in zip(bns, saved, strict=True):
        bn.momentum = momentum


# ---------------------------------------------------------------- export


def export(a: argparse.Namespace, run_dir: Path) -> None:
    """Best epoch -> full-integer int8 TFLite (int8 in, int8 logits out) + float logits."""
    hp = json.loads((run_dir / "hparams.json").read_text())
    model = rebuild_model(a, run_dir)
    model.load_weights(run_dir / f"{a.weights}.weights.h5")
    x_tr, y_tr = load_split(a.data_dir, "train")
    x_va, y_va = load_split(a.data_dir, "public_test")

    # calibration: faces drawn evenly from every class (disgust is rare)
    rng = np.random.default_rng(a.seed)
    per = a.calib_faces // NUM_CLASSES
    idx = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), per, replace=False)
                          for c in range(NUM_CLASSES)])
    calib = normalise(resize(tf.constant(x_tr[idx][..., None].astype(np.float32)), a.size),
                      a.scale_mode).numpy()

    def representative():
        for face in calib:
            yield [face[None]]

    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec((1, a.size, a.size, 1), tf.float32))
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    blob = conv.convert()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_bytes(blob)
    LOG.info("wrote %s (%d bytes, %d calibration faces)", a.out, len(blob), len(idx))

    z = predict_logits(model, x_va, a)
    zf = predict_logits(model, x_va, a, flip=True)
    np.savez(run_dir / "float_logits.npz", logits=z, logits_flip=zf, labels=y_va)
    state = json.loads((run_dir / ("averaged.json" if a.weights == "averaged" else "state.json"))
                       .read_text())
    info = {"run": a.run, "weights": a.weights, "best_epoch": state.get("epoch"),
            "averaged_epochs": state.get("epochs"), "params": model.count_params(),
            "float_accuracy": float((z.argmax(1) == y_va).mean()),
            "float_accuracy_flip": float(((z + zf).argmax(1) == y_va).mean()),
            "hparams": hp}
    (run_dir / "export.json").write_text(json.dumps(info, indent=2))
    LOG.info("float reference: %s", json.dumps({k: v for k, v in info.items() if k != "hparams"}))


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    run_dir = ROOT / "train-runs" / a.run
    setup(a, run_dir)
    if a.average is not None:
        average(a, run_dir)
    elif a.export:
        export(a, run_dir)
    else:
        train(a, run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
