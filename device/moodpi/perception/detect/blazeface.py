"""BlazeFace short-range, MediaPipe's face detector (Apache-2.0): one runner, decoded in numpy.

The model is fully convolutional: resizing its 128x128 input to any (h, w) that are multiples of
16 gives an anchor grid of the same strides over a larger picture, decoded exactly as MediaPipe
decodes 128x128. Every detector here runs through `BlazeFaceRunner`: the room's track windows
and sweep tiles (detect.room) and the whole frame letterboxed (detect.whole_frame). The rule
here: the constants and every decoding step follow MediaPipe's face_detection_short_range.pbtxt
(SSD anchors, boxes offset from them, weighted non-max suppression); the pure pieces take and
return numpy arrays so they can be tested without a model; the hot path allocates nothing large
and decodes only the few candidates above the score threshold. (The full-range model, 192x192,
was measured and left out: docs/architecture.md.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from moodpi.perception.tflite import load_interpreter
from moodpi.system.quiet import native_quiet
from moodpi.types import Face

INPUT_PX = 128  # the model's own square input
SIDE_MULTIPLE_PX = 16  # the coarsest anchor stride: any input side must be a multiple of it
ANCHOR_STRIDES: tuple[int, ...] = (8, 16, 16, 16)  # SsdAnchorsCalculator's layers
ANCHORS_PER_LAYER = 2  # one aspect ratio plus the interpolated scale
ANCHOR_OFFSET = 0.5
SCORE_CLIP = 100.0  # raw logits are clipped to +-100 before the sigmoid
NMS_IOU = 0.3  # min_suppression_threshold


def anchors_px(h: int = INPUT_PX, w: int = INPUT_PX) -> np.ndarray:
    """Anchor centres (N, 2) as (x, y) in input pixels, in the model's output order.

    With fixed_anchor_size, every layer puts ANCHORS_PER_LAYER anchors per cell; consecutive
    layers with the same stride share one grid: the stride-8 grid with 2 anchors per cell, then
    the stride-16 grid with 6 (896 anchors at 128x128).
    """
    per_stride: dict[int, int] = {}
    for stride in ANCHOR_STRIDES:
        per_stride[stride] = per_stride.get(stride, 0) + ANCHORS_PER_LAYER
    centres = []
    for stride, per_cell in per_stride.items():
        ys, xs = np.meshgrid(np.arange(h // stride), np.arange(w // stride), indexing="ij")
        grid = np.stack([(xs + ANCHOR_OFFSET) * stride, (ys + ANCHOR_OFFSET) * stride], axis=-1)
        centres.append(np.repeat(grid.reshape(-1, 2), per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode_boxes(raw: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Regressor rows (N, >=4) → boxes (N, 4) as (x0, y0, x1, y1) in input pixels."""
    centre = raw[:, :2] + anchors
    half = raw[:, 2:4] / 2.0
    return np.concatenate([centre - half, centre + half], axis=1)


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    e: npt.NDArray[np.floating[Any]] = np.exp(-np.clip(logits, -SCORE_CLIP, SCORE_CLIP))
    return 1.0 / (1.0 + e)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box against each row of `boxes`."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU, weighted: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Suppress overlapping boxes, best score first.

    Weighted (MediaPipe's choice for faces): each kept box is the score-weighted mean of the
    boxes it absorbs, which steadies the box from frame to frame. Plain: the best box as is.
    Returns (boxes (K, 4), scores (K,)), best first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    kept_boxes: list[np.ndarray] = []
    kept_scores: list[float] = []
    remaining = np.ones(len(scores), dtype=bool)
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        overlap = remaining & (iou(boxes[i], boxes) > iou_threshold)
        overlap[i] = True
        if weighted:
            w = scores[overlap]
            kept_boxes.append((boxes[overlap] * w[:, None]).sum(axis=0) / w.sum())
        else:
            kept_boxes.append(boxes[i])
        kept_scores.append(float(scores[i]))
        remaining &= ~overlap
    if not kept_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    return np.asarray(kept_boxes, np.float32), np.asarray(kept_scores, np.float32)


def boxes_to_faces(
    boxes_px: np.ndarray,
    scores: Sequence[float] | np.ndarray,
    frame_shape: tuple[int, int],
    min_size_px: int,
) -> list[Face]:
    """Clip (x0, y0, x1, y1) pixel boxes to the frame; drop the ones smaller than min_size_px."""
    h, w = frame_shape
    faces = []
    for (x0, y0, x1, y1), score in zip(boxes_px, scores, strict=True):
        left, top = max(0, round(float(x0))), max(0, round(float(y0)))
        right, bottom = min(w, round(float(x1))), min(h, round(float(y1)))
        if min(right - left, bottom - top) < min_size_px:
            continue
        faces.append(Face(left, top, right - left, bottom - top, float(score)))
    return faces


class BlazeFaceRunner:
    """One BlazeFace short-range interpreter at a fixed input size (h, w); `load` makes one.

    `run` takes a (h, w) uint8 grey canvas (grey replicated to RGB, [-1, 1] by one table
    look-up) and gives boxes in canvas pixels with their scores, after weighted suppression.
    """

    def __init__(self, interpreter: Any, h: int, w: int, min_score: float) -> None:
        inp = interpreter.get_input_details()[0]
        outs = {int(d["shape"][-1]): d for d in interpreter.get_output_details()}
        self.h, self.w = h, w
        self._interpreter = interpreter
        self._in, self._reg, self._cls = inp["index"], outs[16]["index"], outs[1]["index"]
        self._anchors = anchors_px(h, w)
        self._grey = np.empty((h, w), np.float32)
        self._input = np.empty((1, h, w, 3), np.float32)
        self._lut = (np.arange(256, dtype=np.float32) / 127.5 - 1.0).astype(np.float32)
        # Logit threshold equal to min_score: only the few candidates above it get decoded.
        self._min_logit = float(np.log(min_score / (1.0 - min_score))) if min_score < 1 else 1e9

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        h: int = INPUT_PX,
        w: int = INPUT_PX,
        *,
        min_score: float,
        num_threads: int = 1,
    ) -> BlazeFaceRunner:
        """The model at `model_path` resized to (h, w); a file that is not BlazeFace
        short-range is a ValueError saying what it holds."""
        if h % SIDE_MULTIPLE_PX or w % SIDE_MULTIPLE_PX:
            raise ValueError(f"BlazeFace input sides must be multiples of 16, got {h}x{w}")
        interpreter = load_interpreter(model_path, num_threads=num_threads)
        inp = interpreter.get_input_details()[0]
        shape = [int(n) for n in inp["shape"]]
        if shape != [1, INPUT_PX, INPUT_PX, 3] or inp["dtype"] != np.float32:
            raise ValueError(
                f"{model_path}: expected a float32 input [1, 128, 128, 3] (BlazeFace "
                f"short-range), got {np.dtype(inp['dtype']).name} {shape}"
            )
        if (h, w) != (INPUT_PX, INPUT_PX):
            interpreter.resize_tensor_input(inp["index"], [1, h, w, 3])
            with native_quiet():
                interpreter.allocate_tensors()
        n = len(anchors_px(h, w))
        outs = {int(d["shape"][-1]): d for d in interpreter.get_output_details()}
        reg, scores = outs.get(16), outs.get(1)
        if (
            reg is None
            or scores is None
            or [int(k) for k in reg["shape"]] != [1, n, 16]
            or [int(k) for k in scores["shape"]] != [1, n, 1]
        ):
            raise ValueError(
                f"{model_path}: expected outputs regressors [1, {n}, 16] and classificators "
                f"[1, {n}, 1] (BlazeFace short-range at {h}x{w})"
            )
        return cls(interpreter, h, w, min_score)

    def run(self, canvas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Faces in one (h, w) uint8 canvas: boxes (K, 4) x0, y0, x1, y1 in its pixels, scores."""
        np.take(self._lut, canvas, out=self._grey)
        self._input[0] = self._grey[:, :, None]
        self._interpreter.set_tensor(self._in, self._input)
        self._interpreter.invoke()
        logits = self._interpreter.get_tensor(self._cls)[0, :, 0]
        hits = np.flatnonzero(logits >= self._min_logit)
        if hits.size == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        raw = self._interpreter.get_tensor(self._reg)[0, hits, :4]
        boxes = decode_boxes(raw, self._anchors[hits])
        return weighted_nms(boxes, sigmoid_scores(logits[hits]), NMS_IOU, True)
