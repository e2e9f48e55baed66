"""A second look before a box counts as a face: MediaPipe's face landmark model scores presence.

BlazeFace, listening across a room at a low score, fires on round, high-contrast things that
are not faces: a channel logo, a "'15" badge, a lamp, a dark sleeve. MediaPipe's face landmark
model (`face_landmark.tflite`, Apache-2.0, from the `mediapipe` wheel) was trained to say whether
its 192x192 input still holds a face (its tracking flag); on real faces cut the way BlazeFace
boxes them it scores near 1 down to 36 px faces, on the clutter that fooled the detector near 0
(`moodpi bench --distance`, models/README.md).

The rule here: the model is asked once per new box. `FaceVerifier` remembers what it was told
(accepted and rejected boxes, matched by overlap) for `memory_frames`, so a person who stays is
not re-checked every frame and a logo on a wall costs one look per memory, not one per frame.
The memory is pure logic (`VerdictMemory`) and is tested without a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodpi.perception.tflite import load_interpreter
from moodpi.types import Face

INPUT_PX = 192
CROP_SCALE = 1.5  # MediaPipe grows the detection box by half before reading landmarks
MATCH_IOU = 0.3


def box_iou(a: Face, b: Face) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Verdict:
    face: Face
    is_face: bool
    frame: int


class VerdictMemory:
    """Verdicts on boxes, kept for `memory_frames` frames; a box matches one by IoU."""

    def __init__(self, memory_frames: int) -> None:
        self.memory_frames = memory_frames
        self._verdicts: list[_Verdict] = []

    def recall(self, face: Face, frame: int) -> bool | None:
        """The verdict on an overlapping box seen recently, or None (ask the model)."""
        self._verdicts = [v for v in self._verdicts if frame - v.frame < self.memory_frames]
        best = max(self._verdicts, key=lambda v: box_iou(v.face, face), default=None)
        if best is None or box_iou(best.face, face) < MATCH_IOU:
            return None
        if best.is_face:  # a face that stays keeps its verdict fresh and follows the person
            best.face, best.frame = face, frame
        return best.is_face

    def remember(self, face: Face, is_face: bool, frame: int) -> None:
        self._verdicts.append(_Verdict(face, is_face, frame))

    def clear(self) -> None:
        self._verdicts = []


class FaceVerifier:
    """Keeps the boxes the landmark model calls a face (presence >= min_score)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_score: float = 0.4,
        memory_frames: int = 30,
        num_threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self.min_score = min_score
        self.num_threads = num_threads
        self.memory = VerdictMemory(memory_frames)
        self._interpreter: Any = None
        self._input = np.empty((1, INPUT_PX, INPUT_PX, 3), np.float32)
        self._frame = 0
        self.looks = 0  # model invocations so far (the benchmark's cost accounting)
        self.rejected = 0

    def open(self) -> None:
        if self._interpreter is not None:
            return
        interpreter = load_interpreter(self.model_path, num_threads=self.num_threads)
        inp = interpreter.get_input_details()[0]
        flags = [d for d in interpreter.get_output_details() if int(np.prod(d["shape"])) == 1]
        if [int(n) for n in inp["shape"]] != [1, INPUT_PX, INPUT_PX, 3] or not flags:
            raise ValueError(
                f"{self.model_path}: not MediaPipe's face landmark model (input "
                f"{list(inp['shape'])}, expected [1, 192, 192, 3] and a face-presence output)"
            )
        self._in, self._flag = inp["index"], flags[0]["index"]
        self._interpreter = interpreter

    def close(self) -> None:
        self._interpreter = None

    def reset(self) -> None:
        self.memory.clear()

    def presence(self, grey: np.ndarray, face: Face) -> float:
        """The model's face-presence probability for one box of a grey frame."""
        self.open()
        cx, cy = face.x + face.w / 2.0, face.y + face.h / 2.0
        k = INPUT_PX / (max(face.w, face.h) * CROP_SCALE)
        m = np.array([[k, 0.0, INPUT_PX / 2 - cx * k], [0.0, k, INPUT_PX / 2 - cy * k]], np.float32)
        crop = cv2.warpAffine(grey, m, (INPUT_PX, INPUT_PX), flags=cv2.INTER_LINEAR)
        self._input[0] = (crop.astype(np.float32) * (1.0 / 255.0))[:, :, None]
        self._interpreter.set_tensor(self._in, self._input)
        self._interpreter.invoke()
        self.looks += 1
        logit = float(self._interpreter.get_tensor(self._flag).ravel()[0])
        return float(1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0))))

    def verify(self, grey: np.ndarray, faces: list[Face], *, still: bool = False) -> list[Face]:
        """The faces that are faces; a still image is looked at afresh, without memory."""
        self._frame += 1
        kept = []
        for face in faces:
            verdict = None if still else self.memory.recall(face, self._frame)
            if verdict is None:
                verdict = self.presence(grey, face) >= self.min_score
                if not still:
                    self.memory.remember(face, verdict, self._frame)
            if verdict:
                kept.append(face)
            else:
                self.rejected += 1
        return kept
