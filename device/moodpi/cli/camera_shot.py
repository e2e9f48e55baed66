"""`moodpi snapshot FILE`: one annotated frame, to help place the camera.

Each face is boxed with its emotion and its estimated distance (perception.geometry, from the
box width and `camera.hfov_deg`), so a glance tells whether the far end of the room is in reach.

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
from moodpi.cli.classify import StillCamera  # a detector that sweeps over frames gets a sweep
from moodpi.perception.geometry import distance_m
from moodpi.perception.pipeline import build_perception
from moodpi.perception.sources import CameraError, open_source
from moodpi.types import Frame, Observation, Prediction

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
    # Every face in view, not only the one the daemon reads: placing the camera is about all.
    every_face = msgspec.structs.replace(config.faces, select="all")
    config = msgspec.structs.replace(config, faces=every_face)
    observation = StillCamera(lambda: build_perception(config)).observe(frame)
    hfov_deg = config.camera.hfov_deg
    image = annotate(frame.image, observation, hfov_deg)
    if not cv2.imwrite(str(out), image):
        print(f"snapshot: cannot write {out}")
        return EX_CANTCREAT
    faces = len(observation.predictions)
    print(
        f"wrote {out} ({image.shape[1]}x{image.shape[0]}, {faces} face{'s' if faces != 1 else ''})"
    )
    for n, prediction in enumerate(observation.predictions, 1):
        face, far = prediction.face, face_distance_m(prediction, frame.image.shape[1], hfov_deg)
        print(
            f"  face {n}: {face.w}x{face.h} px at ({face.x}, {face.y}), about {far:.1f} m, "
            f"{prediction.emotion} {prediction.confidence:.2f}"
        )
    return 0


def face_distance_m(prediction: Prediction, frame_w_px: int, hfov_deg: float) -> float:
    return distance_m(prediction.face.w, frame_w_px, hfov_deg)


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


def annotate(grey: np.ndarray, observation: Observation, hfov_deg: float = 66.0) -> np.ndarray:
    """A colour copy of the frame with each face's box, emotion, confidence and estimated
    distance drawn on it."""
    image = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    for prediction in observation.predictions:
        face = prediction.face
        cv2.rectangle(image, (face.x, face.y), (face.x + face.w, face.y + face.h), (0, 200, 0), 2)
        far = face_distance_m(prediction, grey.shape[1], hfov_deg)
        label = f"{prediction.emotion} {prediction.confidence:.2f} ~{far:.1f} m"
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
