"""Face detectors behind one small interface, and the pure helpers that pick and crop a face.

BlazeFace (MediaPipe's short-range model, Apache-2.0) is the default: one 128x128 TFLite pass,
SSD anchors decoded and boxes merged by weighted non-max suppression in numpy. OpenCV's Haar
cascade is the dependency-light alternative.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from moodpi.config import Config
from moodpi.perception.tflite import load_interpreter
from moodpi.types import Face

log = logging.getLogger(__name__)

# MediaPipe face_detection_short_range.pbtxt, SsdAnchorsCalculator and TensorsToDetections options.
INPUT_SIZE_PX = 128
ANCHOR_STRIDES: tuple[int, ...] = (8, 16, 16, 16)
ANCHOR_OFFSET = 0.5
BOX_SCALE = 128.0  # x_scale = y_scale = w_scale = h_scale
SCORE_CLIP = 100.0  # raw logits are clipped to +-100 before the sigmoid
NMS_IOU = 0.3  # min_suppression_threshold


class FaceDetector(Protocol):
    def detect(self, grey: np.ndarray) -> list[Face]:
        """Faces in a (H, W) uint8 frame, boxes in frame pixels, best first."""
        ...


# ---------------------------------------------------------------------------------------------
# BlazeFace: anchors, decoding and suppression (pure numpy)


def ssd_anchors(
    input_size_px: int = INPUT_SIZE_PX, strides: Sequence[int] = ANCHOR_STRIDES
) -> np.ndarray:
    """Anchor centres (N, 2) as (x, y) in [0, 1], in the model's output order.

    With fixed_anchor_size and one aspect ratio plus the interpolated scale, every layer puts two
    anchors per cell; consecutive layers with the same stride share one grid (16, 16, 16 → 6).
    """
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        per_cell = 0
        while layer < len(strides) and strides[layer] == stride:
            per_cell += 2
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
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -SCORE_CLIP, SCORE_CLIP)))


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
    """MediaPipe BlazeFace short-range on a letterboxed grey frame (grey replicated to RGB)."""

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
        self._anchors = ssd_anchors()
        self._letterbox = Letterbox(INPUT_SIZE_PX)
        # uint8 → [-1, 1] as one table look-up, and the RGB input tensor, allocated once.
        self._lut = (np.arange(256, dtype=np.float32) / 127.5 - 1.0).astype(np.float32)
        self._grey_f = np.empty((INPUT_SIZE_PX, INPUT_SIZE_PX), np.float32)
        self._input = np.empty((1, INPUT_SIZE_PX, INPUT_SIZE_PX, 3), np.float32)
        # Logit threshold equal to min_score: only the few candidates above it get decoded.
        self._min_logit = float(np.log(min_score / (1.0 - min_score))) if min_score < 1 else 1e9

    def open(self) -> None:
        """Load the model (done on first detect if not called)."""
        if self._interpreter is not None:
            return
        interpreter = load_interpreter(self.model_path, num_threads=self.num_threads)
        inp = interpreter.get_input_details()[0]
        outs = {d["name"]: d for d in interpreter.get_output_details()}
        expected_in = [1, INPUT_SIZE_PX, INPUT_SIZE_PX, 3]
        if list(inp["shape"]) != expected_in or inp["dtype"] != np.float32:
            raise ValueError(
                f"{self.model_path}: expected a float32 input {expected_in}, "
                f"got {inp['dtype'].__name__} {list(inp['shape'])}"
            )
        n = len(self._anchors)
        reg, cls = outs.get("regressors"), outs.get("classificators")
        if (
            reg is None
            or cls is None
            or list(reg["shape"]) != [1, n, 16]
            or list(cls["shape"]) != [1, n, 1]
        ):
            raise ValueError(
                f"{self.model_path}: expected outputs regressors [1, {n}, 16] and "
                f"classificators [1, {n}, 1] (BlazeFace short-range)"
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
        boxes01 = decode_boxes(raw, self._anchors[candidates])
        boxes01, scores = weighted_nms(
            boxes01, sigmoid_scores(logits[candidates]), self.iou_threshold, self.weighted
        )
        boxes_px = self._letterbox.to_frame(boxes01)
        return boxes_to_faces(boxes_px, scores, grey.shape[:2], self.min_size_px)


# ---------------------------------------------------------------------------------------------
# Haar cascade


HAAR_CASCADE = "haarcascade_frontalface_default.xml"


class HaarUnavailable(RuntimeError):
    """This OpenCV build has no cascade classifier, or no cascade file was found."""


def haar_cascade_path(name: str = HAAR_CASCADE, extra_dirs: Sequence[Path] = ()) -> Path:
    """Find a cascade file: in `extra_dirs` (e.g. the models dir), then in the cv2 package.

    OpenCV 4 ships the cascades in cv2.data.haarcascades; OpenCV 5 keeps the cv2.data module but
    no longer the files, so a cascade must then be bundled (models/) or named by path.
    """
    data = getattr(cv2, "data", None)
    package_dir = Path(cv2.__file__).parent
    own = Path(data.haarcascades) if data is not None else package_dir / "data"
    folders = [*extra_dirs, own]
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    found = sorted(package_dir.rglob(name))
    if found:
        return found[0]
    raise HaarUnavailable(
        f"Haar cascade {name} not found in {', '.join(map(str, folders))} or the cv2 package "
        "(OpenCV 5 no longer ships it): set faces.haar_cascade to the XML file"
    )


class HaarDetector:
    """OpenCV's Viola-Jones frontal-face cascade. Scores are 1.0 (the cascade gives none)."""

    def __init__(
        self,
        cascade_path: str | Path | None = None,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size_px: int = 24,
    ) -> None:
        self.cascade_path = Path(cascade_path) if cascade_path else None
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size_px = min_size_px
        self._cascade: Any = None

    def open(self) -> None:
        if self._cascade is not None:
            return
        if not hasattr(cv2, "CascadeClassifier"):
            # OpenCV 5 moved it to the contrib build.
            raise HaarUnavailable(
                f"OpenCV {cv2.__version__} has no CascadeClassifier: install "
                "opencv-contrib-python-headless or opencv-python-headless<5, or use blazeface"
            )
        path = self.cascade_path or haar_cascade_path()
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise ValueError(f"cannot load Haar cascade {path}")
        self._cascade = cascade

    def close(self) -> None:
        self._cascade = None

    def detect(self, grey: np.ndarray) -> list[Face]:
        self.open()
        found = self._cascade.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size_px, self.min_size_px),
        )
        faces = [Face(int(x), int(y), int(w), int(h), 1.0) for x, y, w, h in found]
        return sorted(faces, key=lambda f: f.area, reverse=True)


def make_detector(config: Config) -> FaceDetector:
    """The detector config.faces asks for (models are loaded on first use or open())."""
    faces = config.faces
    if faces.detector == "haar":
        cascade = config.model_path(faces.haar_cascade) if faces.haar_cascade else None
        if cascade is None:
            bundled = config.model_path(HAAR_CASCADE)
            cascade = bundled if bundled.is_file() else None
        return HaarDetector(cascade, min_size_px=faces.min_size_px)
    return BlazeFaceDetector(
        config.model_path(faces.model), min_score=faces.min_score, min_size_px=faces.min_size_px
    )


# ---------------------------------------------------------------------------------------------
# Pure helpers: which faces, the crop, lighting


def select_faces(faces: Sequence[Face], policy: str = "largest") -> list[Face]:
    """`largest`: the biggest face (ties: higher score); `all`: every face, largest first."""
    if policy not in ("largest", "all"):
        raise ValueError(f"unknown face selection policy {policy!r} (largest | all)")
    ordered = sorted(faces, key=lambda f: (f.area, f.score), reverse=True)
    return ordered[:1] if policy == "largest" else ordered


def crop_face(
    grey: np.ndarray, face: Face, margin: float = 0.0, shift_up: float = 0.0
) -> np.ndarray:
    """The face box grown by `margin` (fraction of its size) on each side and moved up by
    `shift_up` (fraction of its height), clipped to the frame.

    BlazeFace boxes run from the brows to the chin while FER-2013 faces, which the classifier
    learnt from, include the forehead: a small upward shift matches them better.
    Returns a view into `grey` (no copy); empty (0 x 0) if the box lies wholly outside.
    """
    h, w = grey.shape[:2]
    dx, dy = round(face.w * margin), round(face.h * margin)
    top = face.y - round(face.h * shift_up)
    x0, y0 = max(0, face.x - dx), max(0, top - dy)
    x1, y1 = min(w, face.x + face.w + dx), min(h, top + face.h + dy)
    if x1 <= x0 or y1 <= y0:
        return grey[0:0, 0:0]
    return grey[y0:y1, x0:x1]


_clahe: Any = None


def _get_clahe() -> Any:
    global _clahe
    if _clahe is None:  # one object for the process: creating it costs more than applying it
        _clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    return _clahe


def equalize(crop: np.ndarray, mode: str = "none") -> np.ndarray:
    """Lighting normalisation of a grey uint8 crop: none, global histogram, or CLAHE."""
    if mode == "none" or crop.size == 0:
        return crop
    if mode == "hist":
        return cv2.equalizeHist(np.ascontiguousarray(crop))
    if mode == "clahe":
        return _get_clahe().apply(np.ascontiguousarray(crop))
    raise ValueError(f"unknown equalize mode {mode!r} (none | hist | clahe)")
