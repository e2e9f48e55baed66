"""The whole frame in one BlazeFace pass (`faces.reach_m = 0`): a letterbox in front of the runner.

One 128x128 pass on the letterboxed frame finds the faces within about 1 m of the camera in
1280x720 (docs/architecture.md); detect.room sees across a room instead. Kept as the
single-pass choice and as the reference a benchmark compares the room detector with.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodpi.perception.detect.blazeface import INPUT_PX, BlazeFaceRunner, boxes_to_faces
from moodpi.types import Face


class Letterbox:
    """Fits a frame into the square model input, keeping its aspect ratio; maps boxes back.

    Buffers are allocated once per frame shape, so the hot path allocates nothing large.
    """

    def __init__(self, size_px: int = INPUT_PX) -> None:
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

    def to_frame(self, boxes_px: np.ndarray) -> np.ndarray:
        """Boxes (N, 4) in canvas pixels → frame pixels (float)."""
        px = boxes_px.copy()
        px[:, [0, 2]] = (px[:, [0, 2]] - self._pad_x) / self._scale
        px[:, [1, 3]] = (px[:, [1, 3]] - self._pad_y) / self._scale
        return px


class WholeFrameDetector:
    """BlazeFace short-range on the letterboxed grey frame; a still is one pass as well."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_score: float = 0.6,
        min_size_px: int = 24,
        num_threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self.min_score = min_score
        self.min_size_px = min_size_px
        self.num_threads = num_threads
        self._letterbox = Letterbox(INPUT_PX)
        self._runner: BlazeFaceRunner | None = None

    def open(self) -> None:
        """Load the model (done on first detect if not called)."""
        if self._runner is None:
            self._runner = BlazeFaceRunner.load(
                self.model_path, min_score=self.min_score, num_threads=self.num_threads
            )

    def close(self) -> None:
        self._runner = None

    def detect(self, grey: np.ndarray, lores: np.ndarray | None = None) -> list[Face]:
        """Faces in a (H, W) uint8 frame, best first; `lores` is not needed for one pass."""
        self.open()
        assert self._runner is not None
        boxes, scores = self._runner.run(self._letterbox.fit(grey))
        frame_boxes = self._letterbox.to_frame(boxes)
        return boxes_to_faces(frame_boxes, scores, grey.shape[:2], self.min_size_px)

    def scan(self, grey: np.ndarray) -> list[Face]:
        return self.detect(grey)

    @property
    def name(self) -> str:
        return "WholeFrameDetector"

    def reset(self) -> None:
        """Nothing to forget: every frame is looked at afresh."""

    def sweep_frames(self, width: int, height: int) -> int:
        """One frame sees the whole frame."""
        return 1
