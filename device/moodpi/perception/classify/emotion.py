"""The emotion classifier: a TFLite model by path, its shapes checked at load, pure preprocessing.

A model travels with a sidecar `<model stem>.json` (labels, input size and scaling, fitted
temperature, provenance, measured metrics), read and validated by `model_card`; the classifier
then checks the model's tensors against it.

The hot path (`classify`) allocates only its result: the face is resized into a preallocated
buffer and mapped to model input by a 256-entry lookup table that folds the scaling and, for
int8/uint8 models, the quantization into one `np.take`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from moodpi.perception.classify.model_card import SCALES, Sidecar, read_sidecar
from moodpi.perception.tflite import load_interpreter

log = logging.getLogger(__name__)

_DTYPES = (np.int8, np.uint8, np.float32)
_FLOAT_FLOOR = 1e-7  # smallest probability a float model's output is taken to hold
# A quantized input must represent the scaled range, give or take these fractions of its span:
# a model calibrated for [0, 1] fed [-1, 1] would silently clip half of every face, and one
# calibrated for [-1, 1] fed [0, 1] would see only bright faces. Either means a wrong sidecar.
_RANGE_TOLERANCE = 0.05
_RANGE_SLACK = 0.25


# ---------------------------------------------------------------------------------------------
# Pure preprocessing


def check_face(face: np.ndarray) -> np.ndarray:
    """A grey uint8 face crop as (H, W); (H, W, 1) is accepted. Anything else: ValueError."""
    if not isinstance(face, np.ndarray):
        raise ValueError(f"face must be a numpy array, got {type(face).__name__}")
    if face.ndim == 3 and face.shape[2] == 1:
        face = face[:, :, 0]
    if face.ndim != 2 or face.dtype != np.uint8:
        raise ValueError(f"face must be a grey (H, W) uint8 array, got {face.shape} {face.dtype}")
    if face.shape[0] < 2 or face.shape[1] < 2:
        raise ValueError(f"face crop too small: {face.shape}")
    return face


def resize_face(face: np.ndarray, size: int, out: np.ndarray | None = None) -> np.ndarray:
    """Square `size` x `size` uint8. Area averaging when shrinking a large camera crop (no
    aliasing); bilinear when enlarging, as the weights were trained (48 → 64, cv2 default)."""
    interpolation = cv2.INTER_AREA if min(face.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(face, (size, size), dst=out, interpolation=interpolation)


def preprocess(face: np.ndarray, size: int, scale: str) -> np.ndarray:
    """Grey uint8 face of any size → (size, size) float32 model input before quantization."""
    multiplier, offset = SCALES[scale]
    resized = resize_face(check_face(face), size)
    return resized.astype(np.float32) * np.float32(multiplier) + np.float32(offset)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: Any) -> np.ndarray:
    """Float → int8/uint8 with the model's affine parameters, saturating.

    Computed as TFLite's own Quantize kernel does: float32 division, round half away from zero.
    """
    info = np.iinfo(dtype)
    v = np.asarray(x, dtype=np.float32) / np.float32(scale)
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)) + zero_point
    out: npt.NDArray[np.integer[Any]] = np.clip(q, info.min, info.max).astype(dtype)
    return out


def input_lut(scale: str, dtype: Any, quant_scale: float = 0.0, zero_point: int = 0) -> np.ndarray:
    """Model input for each grey level 0..255: preprocess's scaling, then quantize if integer."""
    multiplier, offset = SCALES[scale]
    values = np.arange(256, dtype=np.float32) * np.float32(multiplier) + np.float32(offset)
    if np.dtype(dtype) == np.float32:
        return values
    return quantize(values, quant_scale, zero_point, dtype)


def to_probabilities(raw: np.ndarray, temperature: float, output: str, floor: float) -> np.ndarray:
    """Dequantized model output(s) (..., K) → float32 probabilities with temperature T.

    For a softmax output p, softmax(log(p) / T) is the same as scaling the logits by 1/T. A
    quantized probability of 0 only says "below half a step", so it is raised to `floor` first
    (otherwise no temperature could ever lift it). At T = 1 probabilities are only renormalised.
    """
    x = np.asarray(raw, dtype=np.float64)
    if output == "probs":
        if temperature == 1.0:
            x = np.maximum(x, 0.0)
            total = x.sum(axis=-1, keepdims=True)
            uniform = np.full_like(x, 1.0 / x.shape[-1])
            return np.where(total > 0, x / np.where(total > 0, total, 1.0), uniform).astype(
                np.float32
            )
        x = np.log(np.maximum(x, floor))
    x = x / temperature
    e: npt.NDArray[np.float64] = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float32)


# ---------------------------------------------------------------------------------------------


def _top_is_tied(raw: np.ndarray) -> bool:
    return int(np.count_nonzero(raw == raw.max())) > 1


def _tensor_quant(detail: dict[str, Any]) -> tuple[float, int]:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero_point)


class EmotionClassifier:
    """One TFLite interpreter, not thread-safe: use it from one thread (the main loop)."""

    def __init__(
        self,
        interpreter: Any,
        *,
        model_path: Path,
        sidecar: Sidecar | None = None,
        flip_average: bool = False,
        temperature: float | None = None,
    ) -> None:
        self._interpreter = interpreter
        self._path = Path(model_path)
        self._sidecar = sidecar or Sidecar()
        self._flip_average = flip_average
        self._temperature = self._sidecar.temperature if temperature is None else float(temperature)
        if self._temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self._temperature}")
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                f"{self._path} is not an emotion classifier: expected 1 input and 1 output tensor, "
                f"got {len(inputs)} and {len(outputs)}"
            )
        self._in, self._out = inputs[0], outputs[0]
        self._size = self._check_input()
        self._check_output()
        self._in_dtype: np.dtype[Any] = np.dtype(self._in["dtype"])
        self._resized = np.empty((self._size, self._size), np.uint8)
        self._input = np.zeros((1, self._size, self._size, 1), self._in_dtype)
        self._input_plane = self._input[0, :, :, 0]
        self._lut = input_lut(self._sidecar.scale, self._in_dtype, *_tensor_quant(self._in))
        out_dtype: np.dtype[Any] = np.dtype(self._out["dtype"])
        self._quantized_output = out_dtype != np.float32
        out_scale, self._out_zero_point = _tensor_quant(self._out)
        self._out_scale = out_scale if self._quantized_output else 1.0
        self._floor = out_scale / 2 if self._quantized_output else _FLOAT_FLOOR

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        flip_average: bool = False,
        num_threads: int = 1,
        temperature: float | None = None,
    ) -> EmotionClassifier:
        """Load a model and its sidecar. `temperature` overrides the sidecar's (1.0: raw output)."""
        sidecar = read_sidecar(path)
        interpreter = load_interpreter(path, num_threads=num_threads)
        classifier = cls(
            interpreter,
            model_path=Path(path),
            sidecar=sidecar,
            flip_average=flip_average,
            temperature=temperature,
        )
        log.info(
            "emotion model %s: %dx%d %s input, %d labels, T=%.3f, flip=%s",
            path,
            classifier.input_size,
            classifier.input_size,
            classifier.input_dtype,
            len(classifier.labels),
            classifier.temperature,
            flip_average,
        )
        calibrated = sidecar.flip_average
        if calibrated is not None and calibrated != flip_average and temperature is None:
            # the temperature holds for the mode it was fitted in; the argmax is fine either way
            log.warning(
                "emotion model %s was calibrated %s flip averaging but runs %s it: its "
                "confidences are slightly off (set emotion.flip_average = %s)",
                Path(path).name,
                "with" if calibrated else "without",
                "with" if flip_average else "without",
                "true" if calibrated else "false",
            )
        return classifier

    # -- checks at load -----------------------------------------------------------------------

    def _fail(self, what: str) -> ValueError:
        return ValueError(f"{self._path} is not a usable emotion classifier: {what}")

    def _check_input(self) -> int:
        shape = tuple(int(d) for d in self._in["shape"])
        if (
            len(shape) != 4
            or shape[0] != 1
            or shape[3] != 1
            or shape[1] != shape[2]
            or shape[1] < 8
        ):
            raise self._fail(f"input shape {shape}, expected (1, S, S, 1): one square grey face")
        size = shape[1]
        if self._sidecar.size is not None and self._sidecar.size != size:
            raise self._fail(
                f"input is {size}x{size} but {self._sidecar.path} says {self._sidecar.size}"
            )
        dtype = np.dtype(self._in["dtype"])
        if dtype not in _DTYPES:
            raise self._fail(f"input dtype {dtype}, expected int8, uint8 or float32")
        if dtype != np.float32:
            self._check_input_range(dtype)
        return size

    def _check_input_range(self, dtype: np.dtype) -> None:
        scale, zero_point = _tensor_quant(self._in)
        if scale <= 0:
            raise self._fail(f"{dtype} input without quantization parameters")
        info = np.iinfo(dtype)
        low, high = (info.min - zero_point) * scale, (info.max - zero_point) * scale
        multiplier, offset = SCALES[self._sidecar.scale]
        want_low, want_high = offset, 255 * multiplier + offset
        span = want_high - want_low
        clips = (
            low > want_low + _RANGE_TOLERANCE * span or high < want_high - _RANGE_TOLERANCE * span
        )
        wastes = low < want_low - _RANGE_SLACK * span or high > want_high + _RANGE_SLACK * span
        if clips or wastes:
            raise self._fail(
                f"input quantization covers [{low:.3f}, {high:.3f}] but scale "
                f"'{self._sidecar.scale}' gives [{want_low:g}, {want_high:g}]"
                " (sidecar missing or wrong?)"
            )

    def _check_output(self) -> None:
        shape = tuple(int(d) for d in self._out["shape"])
        n = len(self._sidecar.labels)
        if shape != (1, n):
            raise self._fail(
                f"output shape {shape}, expected (1, {n}) for labels {self._sidecar.labels}"
            )
        dtype = np.dtype(self._out["dtype"])
        if dtype not in _DTYPES:
            raise self._fail(f"output dtype {dtype}, expected int8, uint8 or float32")
        if dtype != np.float32 and _tensor_quant(self._out)[0] <= 0:
            raise self._fail(f"{dtype} output without quantization parameters")

    # -- properties ---------------------------------------------------------------------------

    @property
    def input_size(self) -> int:
        return self._size

    @property
    def labels(self) -> tuple[str, ...]:
        return self._sidecar.labels

    @property
    def quantized(self) -> bool:
        """True for an integer (int8/uint8) input tensor."""
        return self._in_dtype != np.float32

    @property
    def quantized_output(self) -> bool:
        return self._quantized_output

    @property
    def output_floor(self) -> float:
        """Smallest probability the output can stand for (half a quantization step)."""
        return self._floor

    @property
    def input_dtype(self) -> str:
        return str(self._in_dtype)

    @property
    def temperature(self) -> float:
        return self._temperature

    @property
    def flip_average(self) -> bool:
        return self._flip_average

    @property
    def model_path(self) -> Path:
        return self._path

    @property
    def sidecar(self) -> Sidecar:
        return self._sidecar

    # -- inference ----------------------------------------------------------------------------

    def classify(self, face: np.ndarray) -> np.ndarray:
        """Grey uint8 face crop of any size → float32 probabilities (len(labels),), summing to 1."""
        resized = resize_face(check_face(face), self._size, out=self._resized)
        # mode="clip" skips the bounds-check buffer; uint8 indices are always in range.
        np.take(self._lut, resized, out=self._input_plane, mode="clip")
        raw = self._run()
        # An int8 softmax has 1/256 steps, so near-ties at the top become exact ties (about 3 %
        # of FER faces) and argmax would always favour the lower index. The mirrored face is
        # the one extra piece of evidence at hand: it breaks most ties for one more invoke.
        if self._flip_average or (self._quantized_output and _top_is_tied(raw)):
            # mirror the prepared input in place (numpy buffers the overlapping copy): cheaper
            # than a second lookup through a reversed view
            self._input_plane[...] = self._input_plane[:, ::-1]
            raw = (raw + self._run()) * 0.5
        return to_probabilities(raw, self._temperature, self._sidecar.output, self._floor)

    def classify_many(self, faces: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self.classify(face) for face in faces]

    def _run(self) -> np.ndarray:
        """One invoke of the prepared input; the dequantized output row (float64 to average)."""
        self._interpreter.set_tensor(self._in["index"], self._input)
        self._interpreter.invoke()
        raw: npt.NDArray[Any] = self._interpreter.get_tensor(self._out["index"])[0]
        if self._quantized_output:
            return (raw.astype(np.float64) - self._out_zero_point) * self._out_scale
        return raw.astype(np.float64)
