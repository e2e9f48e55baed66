"""`moodpi snapshot FILE`: one annotated frame, to help place the camera.

Each face is boxed with its emotion and its estimated distance (perception.annotate), so a
glance tells whether the far end of the room is in reach. While the daemon runs, the frame is
its own newest one, asked over its snapshot socket (moodpi.system.snapshot_socket): the service
keeps running and keeps the camera. Without a daemon (or with detection off, or `--source`
naming a camera), the command opens the camera itself and reads every face in view.

The only command that writes an image, and only to the file the user names.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import msgspec

from moodpi import config as config_mod
from moodpi.system.snapshot_socket import ask_daemon, snapshot_socket_path
from moodpi.types import Frame

log = logging.getLogger(__name__)

EX_USAGE = 64
EX_UNAVAILABLE = 69
EX_CANTCREAT = 73
EX_NOPERM = 77
FRAME_ATTEMPTS = 20
KINDS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png"}


def cli_snapshot(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    out = Path(args.file)
    kind = KINDS.get(out.suffix.lower())
    if kind is None:
        print(f"snapshot: {out} must end in .jpg or .png")
        return EX_USAGE
    if args.source:  # a camera to open: the command's own, whether a daemon runs or not
        camera = msgspec.structs.replace(config.camera, source=args.source)
        config = msgspec.structs.replace(config, camera=camera)
    else:
        asked = _from_daemon(config, kind)
        if isinstance(asked, int):
            return asked
        if asked is not None:
            return _write(out, asked[1], asked[0], "the running daemon's newest frame")
    from moodpi.perception.sources import CameraError  # OpenCV: only when the camera is ours

    try:
        frame = grab_frame(config)
    except CameraError as exc:
        print(f"snapshot: camera unavailable: {exc}")
        return EX_UNAVAILABLE
    shows, image = _read_frame(config, frame, kind)
    return _write(out, image, shows, config.camera.source)


def _from_daemon(config: config_mod.Config, kind: str) -> tuple[dict[str, Any], bytes] | int | None:
    """The daemon's frame; None: no daemon, or it holds no camera (open it here); an exit
    status when the daemon is there but cannot help."""
    path = snapshot_socket_path(config.state_path)
    try:
        reply = ask_daemon(path, kind)
    except PermissionError:
        print(f"snapshot: {path} is the running daemon's, for its group only: run as a member"
              " of group moodpi (sudo usermod -aG moodpi $USER, then log in again)")  # fmt: skip
        return EX_NOPERM
    except (OSError, ValueError) as exc:  # TimeoutError included: a daemon that does not answer
        print(f"snapshot: the running daemon did not answer at {path}: {exc}")
        return EX_UNAVAILABLE
    if reply is None:
        return None
    shows, image = reply
    if shows.get("ok"):
        return shows, image
    if shows.get("released"):  # its camera is free: take the picture here
        log.debug("daemon: %s", shows.get("error"))
        return None
    print(f"snapshot: the running daemon has no frame to give: {shows.get('error')}")
    return EX_UNAVAILABLE


def _read_frame(config: config_mod.Config, frame: Frame, kind: str) -> tuple[dict[str, Any], bytes]:
    from moodpi.cli.classify import StillCamera  # the whole picture at once, as a still
    from moodpi.perception.annotate import drawn
    from moodpi.perception.pipeline import build_perception

    # Every face in view, not only the one the daemon reads: placing the camera is about all.
    every_face = msgspec.structs.replace(config.faces, select="all")
    config = msgspec.structs.replace(config, faces=every_face)
    observation = StillCamera(lambda: build_perception(config)).observe(frame)
    return drawn(frame.image, observation, config.camera.hfov_deg, kind)


def _write(out: Path, image: bytes, shows: dict[str, Any], source: str) -> int:
    try:
        out.write_bytes(image)
    except OSError as exc:
        print(f"snapshot: cannot write {out}: {exc.strerror or exc}")
        return EX_CANTCREAT
    faces = shows.get("faces") or []
    count = f"{len(faces)} face{'s' if len(faces) != 1 else ''}"
    age = shows.get("age_s")
    when = f", {age:.1f} s old" if isinstance(age, (int, float)) and age >= 1 else ""
    print(f"wrote {out} ({shows.get('width')}x{shows.get('height')}, {count}): {source}{when}")
    for n, face in enumerate(faces, 1):
        far = f"about {face['distance_m']:.1f} m" if face.get("distance_m") else "distance unknown"
        read = f"{face['emotion']} {face['confidence']:.2f}" if face.get("emotion") else "not read"
        print(
            f"  face {n}: {face['w']}x{face['h']} px at ({face['x']}, {face['y']}), {far}, {read}"
        )
    return 0


def grab_frame(config: config_mod.Config) -> Frame:
    """The first good frame (a camera's first frames can be dark while exposure settles)."""
    from moodpi.perception.sources import CameraError, open_source

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
