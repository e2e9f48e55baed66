"""`moodpi snapshot FILE`: one annotated frame, to help place the camera.

The only command that writes an image, and only to the file the user names. It opens the camera
itself, so stop the daemon (or switch detection off over MQTT) first if the camera is busy.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import msgspec
import numpy as np

from moodpi import config as config_mod
from moodpi.perception.pipeline import build_perception
from moodpi.perception.sources import CameraError, open_source
from moodpi.types import Frame, Observation

log = logging.getLogger(__name__)

EX_UNAVAILABLE = 69
EX_CANTCREAT = 73
FRAME_ATTEMPTS = 20


def cli_snapshot(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    if args.source:
        camera = msgspec.structs.replace(config.camera, source=args.source)
        config = msgspec.structs.replace(config, camera=camera)
    out = Path(args.file)
    if out.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        print(f"snapshot: {out} must end in .jpg or .png")
        return 64
    try:
        frame = grab_frame(config)
    except CameraError as exc:
        print(f"snapshot: camera unavailable: {exc}")
        return EX_UNAVAILABLE
    observation = build_perception(config).observe(frame)
    image = annotate(frame.image, observation)
    if not cv2.imwrite(str(out), image):
        print(f"snapshot: cannot write {out}")
        return EX_CANTCREAT
    faces = len(observation.predictions)
    print(
        f"wrote {out} ({image.shape[1]}x{image.shape[0]}, {faces} face{'s' if faces != 1 else ''})"
    )
    return 0


def grab_frame(config: config_mod.Config) -> Frame:
    """The first good frame (a camera's first frames can be dark while exposure settles)."""
    source = open_source(config.camera.source, config.camera)
    source.start()
    try:
        frame = None
        for _ in range(FRAME_ATTEMPTS):
            frame = source.read(config.camera.timeout_s) or frame
            if frame is not None and source.is_replay:
                break
    finally:
        source.stop()
    if frame is None:
        raise CameraError(f"no frame from {source.describe()}")
    return frame


def annotate(grey: np.ndarray, observation: Observation) -> np.ndarray:
    """A colour copy of the frame with each face's box, emotion and confidence drawn on it."""
    image = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    for prediction in observation.predictions:
        face = prediction.face
        cv2.rectangle(image, (face.x, face.y), (face.x + face.w, face.y + face.h), (0, 200, 0), 2)
        label = f"{prediction.emotion} {prediction.confidence:.2f}"
        cv2.putText(
            image,
            label,
            (face.x, max(12, face.y - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (0, 200, 0),
            2,
        )
    if not observation.predictions:
        cv2.putText(image, "no face", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
    return image
