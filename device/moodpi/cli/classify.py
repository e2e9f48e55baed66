"""`moodpi classify [--config F] [--json] IMAGE...`: photos through the daemon's own pipeline.

Each image is taken as one camera frame and goes through `build_perception(config)` with every
face classified (`faces.select = "all"`), largest first; with a music library configured, the
music the current policy would play for the largest face comes with it. `--json` prints one
object per image per line, a contract other programs drive moodpi through (docs/classify.md).
An unreadable image gets its own error line and the others are still classified; the exit status
is then EX_NOINPUT (66) at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import cv2
import msgspec
import numpy as np

from moodpi import config as config_mod
from moodpi.music.director import preview
from moodpi.music.library.library import Library, library_from_config
from moodpi.music.policy import plan
from moodpi.perception.pipeline import Perception, build_perception
from moodpi.types import (
    EMOTIONS,
    POLICIES,
    Emotion,
    Frame,
    Observation,
    Policy,
    Prediction,
    as_policy,
)

EX_NOINPUT = 66  # sysexits.h: an input file did not exist or was not readable
EX_CONFIG = config_mod.EX_CONFIG
MAX_IMAGE_BYTES = 64 << 20  # a camera frame or a phone photo is a few MiB
MUSIC_TRACKS = 5  # the first tracks the policy would play: its plan, the last step repeating


class UnreadableImage(Exception):
    """The file is not an image moodpi can take as a frame; the message says why."""


@dataclass(frozen=True)
class Music:
    """What would play: a policy's plan for the top face's emotion and the tracks the daemon's
    own director would start (music.director.preview: folders, then the valence-arousal plane)."""

    library: Library
    policy: Policy
    music_config: config_mod.MusicConfig

    def answer(self, emotion: str) -> dict[str, Any]:
        mood = _emotion(emotion)
        categories = plan(self.policy, mood, self.music_config)
        rng = random.Random(0)  # the same photo, the same songs
        tracks = preview(self.music_config, self.library, self.policy, mood, MUSIC_TRACKS, rng)
        return {
            "policy": self.policy,
            "emotion": emotion,
            "categories": list(categories),
            "tracks": [track.as_dict() for track in tracks],
        }


# ---------------------------------------------------------------------------------------------
# Reading an image as a frame


def read_frame(path: str, index: int = 0) -> Frame:
    """The image at `path` as a grey camera frame; UnreadableImage says why it cannot be one."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UnreadableImage("no such file") from None
    except OSError as exc:
        raise UnreadableImage(f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableImage("is a directory, not an image")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise UnreadableImage("not a regular file")
    if info.st_size == 0:
        raise UnreadableImage("empty file")
    if info.st_size > MAX_IMAGE_BYTES:
        raise UnreadableImage(f"{info.st_size} bytes, over the limit of {MAX_IMAGE_BYTES}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise UnreadableImage(f"cannot read: {exc.strerror or exc}") from None
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None or grey.ndim != 2 or grey.size == 0:
        raise UnreadableImage("not an image OpenCV decodes (truncated, or not PNG/JPEG/BMP/...)")
    return Frame(image=grey, t=0.0, index=index)


class StillCamera:
    """Each image through the daemon's pipeline as a still: the detector looks at the whole
    picture at once (a room detector runs its whole sweep, a verifier looks at every box)."""

    def __init__(self, build: Callable[[], Perception]) -> None:
        self._perception = build()  # a missing model fails now, not on image 1

    def observe(self, frame: Frame) -> Observation:
        return self._perception.observe_still(frame)


# ---------------------------------------------------------------------------------------------
# Documents


def face_document(prediction: Prediction) -> dict[str, Any]:
    face = prediction.face
    return {
        "box": [int(face.x), int(face.y), int(face.w), int(face.h)],
        "score": round(float(face.score), 4),
        "emotion": prediction.emotion,
        "confidence": round(prediction.confidence, 4),
        "probabilities": {
            e: round(float(p), 4) for e, p in zip(EMOTIONS, prediction.probs, strict=True)
        },
    }


def image_document(
    path: str, frame: Frame, seen: Observation, music: Music | None
) -> dict[str, Any]:
    predictions = sorted(seen.predictions, key=lambda p: (p.face.area, p.face.score), reverse=True)
    height, width = frame.image.shape[:2]
    return {
        "image": path,
        "width": int(width),
        "height": int(height),
        "faces": [face_document(p) for p in predictions],
        "music": music.answer(predictions[0].emotion) if music and predictions else None,
    }


def render_table(doc: dict[str, Any]) -> str:
    faces = doc["faces"]
    head = f"{doc['image']}  {doc['width']}x{doc['height']}  {len(faces)} face"
    lines = [head + ("" if len(faces) == 1 else "s")]
    if faces:
        names = " ".join(f"{e[:5]:>5}" for e in EMOTIONS)
        lines.append(f"  #  {'box [x, y, w, h]':<22} score  {'emotion':<9} conf  {names}")
    for n, face in enumerate(faces, 1):
        box = "[" + ", ".join(str(v) for v in face["box"]) + "]"
        probs = " ".join(f"{face['probabilities'][e]:5.2f}" for e in EMOTIONS)
        lines.append(
            f"  {n:<2} {box:<22} {face['score']:5.2f}  {face['emotion']:<9} "
            f"{face['confidence']:4.2f}  {probs}"
        )
    music = doc["music"]
    if music is not None:
        tracks = ", ".join(f"{t['title']} [{t['category']}]" for t in music["tracks"]) or "nothing"
        lines.append(f"  music ({music['policy']} for {music['emotion']}): {tracks}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The command


def cli_classify(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    every_face = msgspec.structs.replace(config.faces, select="all")
    config = msgspec.structs.replace(config, faces=every_face)
    try:
        camera = StillCamera(lambda: build_perception(config))
    except (OSError, ValueError) as exc:  # a missing or unusable model: as the daemon, exit 78
        print(f"classify: cannot load the models: {exc}", file=sys.stderr)
        return EX_CONFIG
    music = music_for(config)
    return classify(args.images, camera, music, as_json=bool(args.json))


def classify(
    paths: Sequence[str],
    camera: StillCamera,
    music: Music | None,
    *,
    as_json: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    failed = 0
    for index, path in enumerate(paths):
        try:
            frame = read_frame(path, index)
            seen = camera.observe(frame)
        except (UnreadableImage, ValueError) as exc:  # ValueError: a frame perception refuses
            failed += 1
            print(f"classify: {path}: {exc}", file=err, flush=True)
            if as_json:
                print(json.dumps({"image": path, "error": str(exc)}), file=out, flush=True)
            continue
        doc = image_document(path, frame, seen, music)
        text = json.dumps(doc, ensure_ascii=False) if as_json else render_table(doc)
        print(text, file=out, flush=True)
    return EX_NOINPUT if failed else 0


def music_for(config: config_mod.Config) -> Music | None:
    """The library as the daemon serves it first (its scan cache and analysis), else scanned
    here without writing anything; None without a music library."""
    music = config.music
    if not (music.root or music.playlists):
        return None
    library = library_from_config(config)
    if library.load() == 0:
        library = library.read_only()
        library.scan()
    return Music(library, current_policy(config), music)


def current_policy(config: config_mod.Config) -> Policy:
    """The running daemon's policy (Home Assistant may have changed it), else the configured."""
    from moodpi.system.status import status_path
    from moodpi.system.status_reader import read_status

    reading = read_status(status_path(config.state_path))
    policy = (reading.data or {}).get("policy") if reading.state == "running" else None
    return as_policy(policy) if policy in POLICIES else config.music.policy


def _emotion(name: str) -> Emotion:
    for emotion in EMOTIONS:
        if emotion == name:
            return emotion
    raise ValueError(f"not an emotion: {name!r}")
