"""The doctor's checks of the models: the emotion model loads and reads the bundled face as
happy, in its calibrated mode; the face detector runs on a blank frame."""

from __future__ import annotations

import base64
import contextlib
import time
from typing import Any

from moodpi import config as cfg
from moodpi.cli.doctor.check import FAIL, OK, WARN, Check
from moodpi.cli.doctor.face_png import FACE_PNG_B64


def bundled_face() -> Any:
    """A 48x48 grey FER-2013 face the model should call happy (tests/fixtures/faces)."""
    import cv2
    import numpy as np

    data = np.frombuffer(base64.b64decode("".join(FACE_PNG_B64)), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


def check_emotion_model(config: cfg.Config) -> Check:
    from moodpi.perception.emotion import EmotionClassifier
    from moodpi.types import EMOTIONS

    path = config.model_path(config.emotion.model)
    hint = f"emotion.model = {config.emotion.model!r} in {path.parent}; reinstall the models"
    try:
        classifier = EmotionClassifier.from_file(
            path, flip_average=config.emotion.flip_average, num_threads=config.emotion.num_threads
        )
    except (OSError, ValueError, ImportError) as exc:
        return Check("model", FAIL, f"cannot load {path}: {exc}", hint)
    if tuple(classifier.labels) != EMOTIONS:
        return Check("model", FAIL, f"{path.name} has labels {classifier.labels}", hint)
    face = bundled_face()
    classifier.classify(face)  # the first invoke pays for XNNPACK's set-up
    started = time.perf_counter()
    probs = classifier.classify(face)
    elapsed_ms = (time.perf_counter() - started) * 1000
    top = EMOTIONS[int(probs.argmax())]
    size = classifier.input_size
    detail = (
        f"{path.name}: {size}x{size} {classifier.input_dtype}, bundled happy face → {top} "
        f"{float(probs.max()):.2f} in {elapsed_ms:.1f} ms"
    )
    if top != "happy":
        return Check("model", WARN, detail, "the model misreads a clear face: check the model file")
    calibrated = classifier.sidecar.flip_average
    if calibrated is not None and calibrated != config.emotion.flip_average:
        hint = f"set emotion.flip_average = {str(calibrated).lower()} (its calibrated mode)"
        return Check("model", WARN, detail + "; confidences slightly off", hint)
    return Check("model", OK, detail)


def check_face_detector(config: cfg.Config) -> Check:
    import numpy as np

    from moodpi.perception.faces import make_detector

    detector: Any = make_detector(config)
    try:
        with contextlib.suppress(AttributeError):
            detector.open()
        faces = detector.detect(np.full((config.camera.height, config.camera.width), 128, np.uint8))
    except Exception as exc:
        hint = f"faces.detector = {config.faces.detector!r}, faces.model = {config.faces.model!r}"
        return Check("faces", FAIL, f"face detector does not run: {exc}", hint)
    finally:
        with contextlib.suppress(Exception):
            detector.close()
    return Check(
        "faces", OK, f"{config.faces.detector} detector runs ({len(faces)} faces in a blank frame)"
    )
