"""BlazeFace, MediaPipe's face detectors (Apache-2.0), decoded in numpy.

Two variants, told apart by the model's input size: short-range (128x128, faces within about
2 m of a phone) and full-range (192x192, a denser 48x48 anchor grid that finds faces a few
pixels tall in its input). One TFLite pass on the letterboxed grey frame (grey replicated to
RGB); SSD anchors are decoded and overlapping boxes merged by weighted non-max suppression, as
MediaPipe's own graphs do. The rule here: the constants and every decoding step follow
MediaPipe's face_detection_short_range.pbtxt and face_detection_full_range_common.pbtxt, the
pure pieces (anchors, decoding, IoU, suppression, letterbox) take and return numpy arrays so
they can be tested without a model, and the hot path allocates nothing large: buffers are made
once per frame shape and only the few candidates above the score threshold are decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt

from moodpi.perception.tflite import load_interpreter
from moodpi.types import Face


class Variant(NamedTuple):
    """SsdAnchorsCalculator options of one BlazeFace model (MediaPipe's graph files)."""

    name: str
    input_px: int  # square input side; also the box scale (x_scale = ... = h_scale)
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with interpolated_scale_aspect_ratio 1.0, 1 with 0.0


SHORT_RANGE = Variant("short-range", 128, (8, 16, 16, 16), 2)
FULL_RANGE = Variant("full-range", 192, (4,), 1)
VARIANTS = {v.input_px: v for v in (SHORT_RANGE, FULL_RANGE)}

INPUT_SIZE_PX = SHORT_RANGE.input_px
ANCHOR_STRIDES: tuple[int, ...] = SHORT_RANGE.strides
ANCHOR_OFFSET = 0.5
BOX_SCALE = float(SHORT_RANGE.input_px)
SCORE_CLIP = 100.0  # raw logits are clipped to +-100 before the sigmoid
NMS_IOU = 0.3  # min_suppression_threshold


def ssd_anchors(
    input_size_px: int = INPUT_SIZE_PX,
    strides: Sequence[int] = ANCHOR_STRIDES,
    anchors_per_layer: int = 2,
) -> np.ndarray:
    """Anchor centres (N, 2) as (x, y) in [0, 1], in the model's output order.

    With fixed_anchor_size and one aspect ratio (plus the interpolated scale in the short-range
    model), every layer puts `anchors_per_layer` anchors per cell; consecutive layers with the
    same stride share one grid (short-range: 16, 16, 16 → 6 anchors per cell).
    """
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        per_cell = 0
        while layer < len(strides) and strides[layer] == stride:
            per_cell += anchors_per_layer
            layer += 1
        cells = -(-input_size_px // stride)  # ceil
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + ANCHOR_OFFSET) / cells, (ys + ANCHOR_OFFSET) / cells], axis=-1)
        centres.append(np.repeat(grid.reshape(-1, 2), per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, scale: float = BOX_SCALE) -> np.ndarray:
    """Regressor rows (N, >=4) → boxes (N, 4) as (x0, y0, x1, y1) in [0, 1] input coordinates."""
    cx = raw[:, 0] / scale + anchors[:, 0]
    cy = raw[:, 1] / scale + anchors[:, 1]
    half_w = raw[:, 2] / (2.0 * scale)
    half_h = raw[:, 3] / (2.0 * scale)
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)


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


class Letterbox:
    """Fits a frame into the square model input, keeping its aspect ratio; maps boxes back.

    Buffers are allocated once per frame shape, so the hot path allocates nothing large.
    """

    def __init__(self, size_px: int = INPUT_SIZE_PX) -> None:
        self.size_px = size_px
        self._shape: tuple[int, int] | None = None
        self._canvas = np.zeros((size_px, size_px), np.uint8)
        self._scale = 1.0
        self._pad_x = 0
        self._pad_y = 0
        self._fit_w = size_px
        self._fit_h = size_px

    def _prepare(self, shape: tuple[int, int]) -> None:
        h, w = shape
        self._scale = self.size_px / max(h, w)
        self._fit_w = max(1, round(w * self._scale))
        self._fit_h = max(1, round(h * self._scale))
        self._pad_x = (self.size_px - self._fit_w) // 2
        self._pad_y = (self.size_px - self._fit_h) // 2
        self._canvas[:] = 0  # black borders, as MediaPipe pads
        self._shape = shape

    def fit(self, grey: np.ndarray) -> np.ndarray:
        """The frame downscaled into the (size, size) uint8 canvas (returned, reused next call)."""
        if grey.shape != self._shape:
            self._prepare(grey.shape)
        inner = self._canvas[
            self._pad_y : self._pad_y + self._fit_h, self._pad_x : self._pad_x + self._fit_w
        ]
        # INTER_AREA averages the pixels it drops: a 5x downscale without aliasing.
        inner[:] = cv2.resize(grey, (self._fit_w, self._fit_h), interpolation=cv2.INTER_AREA)
        return self._canvas

    def to_frame(self, boxes01: np.ndarray) -> np.ndarray:
        """Boxes (N, 4) in [0, 1] canvas coordinates → frame pixels (float)."""
        px = boxes01 * self.size_px
        px[:, [0, 2]] = (px[:, [0, 2]] - self._pad_x) / self._scale
        px[:, [1, 3]] = (px[:, [1, 3]] - self._pad_y) / self._scale
        return px


def boxes_to_faces(
    boxes_px: np.ndarray, scores: np.ndarray, frame_shape: tuple[int, int], min_size_px: int
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


class BlazeFaceDetector:
    """MediaPipe BlazeFace (short- or full-range, read from the model's input size) on a
    letterboxed grey frame (grey replicated to RGB)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_score: float = 0.6,
        min_size_px: int = 24,
        iou_threshold: float = NMS_IOU,
        weighted: bool = True,
        num_threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self.min_score = min_score
        self.min_size_px = min_size_px
        self.iou_threshold = iou_threshold
        self.weighted = weighted
        self.num_threads = num_threads
        self._interpreter: Any = None
        self.variant = SHORT_RANGE
        # uint8 → [-1, 1] as one table look-up.
        self._lut = (np.arange(256, dtype=np.float32) / 127.5 - 1.0).astype(np.float32)
        self._use(SHORT_RANGE)
        # Logit threshold equal to min_score: only the few candidates above it get decoded.
        self._min_logit = float(np.log(min_score / (1.0 - min_score))) if min_score < 1 else 1e9

    def _use(self, variant: Variant) -> None:
        """Anchors and input buffers for one model variant, allocated once."""
        side = variant.input_px
        self.variant = variant
        self._anchors = ssd_anchors(side, variant.strides, variant.anchors_per_layer)
        self._box_scale = float(side)
        self._letterbox = Letterbox(side)
        self._grey_f = np.empty((side, side), np.float32)
        self._input = np.empty((1, side, side, 3), np.float32)

    def open(self) -> None:
        """Load the model (done on first detect if not called)."""
        if self._interpreter is not None:
            return
        interpreter = load_interpreter(self.model_path, num_threads=self.num_threads)
        inp = interpreter.get_input_details()[0]
        # Output names differ between the files (regressors / reshaped_regressor_face_4 /
        # Identity): the last dimension tells them apart.
        outs = {int(d["shape"][-1]): d for d in interpreter.get_output_details()}
        shape = [int(n) for n in inp["shape"]]
        variant = VARIANTS.get(shape[1]) if len(shape) == 4 and shape[1] == shape[2] else None
        if variant is None or shape != [1, shape[1], shape[1], 3] or inp["dtype"] != np.float32:
            raise ValueError(
                f"{self.model_path}: expected a float32 input [1, 128, 128, 3] (BlazeFace "
                f"short-range) or [1, 192, 192, 3] (full-range), "
                f"got {inp['dtype'].__name__} {shape}"
            )
        self._use(variant)
        n = len(self._anchors)
        reg, cls = outs.get(16), outs.get(1)
        if (
            reg is None
            or cls is None
            or list(reg["shape"]) != [1, n, 16]
            or list(cls["shape"]) != [1, n, 1]
        ):
            raise ValueError(
                f"{self.model_path}: expected outputs regressors [1, {n}, 16] and "
                f"classificators [1, {n}, 1] (BlazeFace {variant.name})"
            )
        self._in_index = inp["index"]
        self._reg_index = reg["index"]
        self._cls_index = cls["index"]
        self._interpreter = interpreter

    def close(self) -> None:
        self._interpreter = None

    def detect(self, grey: np.ndarray) -> list[Face]:
        self.open()
        canvas = self._letterbox.fit(grey)
        np.take(self._lut, canvas, out=self._grey_f)
        self._input[0] = self._grey_f[:, :, None]
        self._interpreter.set_tensor(self._in_index, self._input)
        self._interpreter.invoke()
        logits = self._interpreter.get_tensor(self._cls_index)[0, :, 0]
        candidates = np.flatnonzero(logits >= self._min_logit)
        if candidates.size == 0:
            return []
        raw = self._interpreter.get_tensor(self._reg_index)[0, candidates]
        boxes01 = decode_boxes(raw, self._anchors[candidates], self._box_scale)
        boxes01, scores = weighted_nms(
            boxes01, sigmoid_scores(logits[candidates]), self.iou_threshold, self.weighted
        )
        boxes_px = self._letterbox.to_frame(boxes01)
        return boxes_to_faces(boxes_px, scores, grey.shape[:2], self.min_size_px)
