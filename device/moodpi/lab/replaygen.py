"""Deterministic frames with faces, for tests, the demo and benchmarks.

A 48x48 FER-2013 face is upscaled and set, with a soft border, into a head-and-shoulders
silhouette over a textured background, so that a real face detector finds it. Everything is
drawn from the `rng` passed in: the same seed gives the same frames, byte for byte.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from moodpi.perception.detect.geometry import face_width_px
from moodpi.types import EMOTIONS

log = logging.getLogger(__name__)

JPEG_QUALITY = 90
FACE_HOLD_S = (1.0, 2.0)  # each face of a segment is shown this long (uniform)
ROOM_DISTANCES_M = (1.0, 4.0)  # room_frames' people sit this far from the camera


# ---------------------------------------------------------------------------------------------
# One frame


def make_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A room-like backdrop: smooth low-frequency shading plus a few soft-edged blocks."""
    w, h = size
    coarse = rng.normal(0.0, 1.0, (4, 5)).astype(np.float32)
    shade = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    base = float(rng.uniform(90, 170))
    bg = base + float(rng.uniform(15, 30)) * shade
    for _ in range(int(rng.integers(2, 6))):  # shelves, a door, a window
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        bw, bh = int(rng.integers(w // 10, w // 3)), int(rng.integers(h // 10, h // 2))
        cv2.rectangle(bg, (x0, y0), (x0 + bw, y0 + bh), float(rng.uniform(50, 210)), -1)
    return cv2.GaussianBlur(bg, (0, 0), 3.0)


def _silhouette(
    canvas: np.ndarray, face_px: int, center: tuple[int, int], rng: np.random.Generator
) -> None:
    """Hair, neck and shoulders around where the face goes, drawn in place on a float canvas."""
    cx, cy = center
    hair = float(rng.uniform(25, 80))
    skin = float(rng.uniform(120, 190))
    cloth = float(rng.uniform(30, 200))

    def at(fx: float, fy: float) -> tuple[int, int]:  # a point in face-size units from the centre
        return cx + int(fx * face_px), cy + int(fy * face_px)

    def axes(fx: float, fy: float) -> tuple[int, int]:
        return int(fx * face_px), int(fy * face_px)

    # Shoulders and torso first, then the neck, then the head on top.
    cv2.ellipse(canvas, at(0, 1.45), axes(1.25, 0.75), 0, 180, 360, cloth, -1)
    cv2.rectangle(canvas, at(-0.9, 1.45), at(0.9, 4.0), cloth, -1)
    cv2.rectangle(canvas, at(-0.22, 0.3), at(0.22, 0.85), skin, -1)
    cv2.ellipse(canvas, at(0, -0.08), axes(0.56, 0.66), 0, 0, 360, hair, -1)


def _feather_mask(face_px: int) -> np.ndarray:
    """1 in the middle, fading to 0 at the edges: no hard square outline around the pasted face."""
    mask = np.zeros((face_px, face_px), np.float32)
    r = face_px // 2
    cv2.ellipse(mask, (r, r), (int(0.47 * face_px), int(0.5 * face_px)), 0, 0, 360, 1.0, -1)
    sigma = max(1.0, 0.06 * face_px)
    return cv2.GaussianBlur(mask, (0, 0), sigma)


def _paste(canvas: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x0: int, y0: int) -> None:
    """Alpha-blend `patch` into `canvas` at (x0, y0), clipped to the canvas."""
    h, w = canvas.shape
    ph, pw = patch.shape
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x0 + pw), min(h, y0 + ph)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    p = patch[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    a = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    region = canvas[cy0:cy1, cx0:cx1]
    region += a * (p - region)


def compose_frame(
    face: np.ndarray | None,
    *,
    size: tuple[int, int] = (640, 480),
    face_px: int = 160,
    center: tuple[int, int] = (320, 240),
    rng: np.random.Generator,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """A (H, W) uint8 frame (size is (W, H)) with `face` upscaled to face_px and centred at
    `center`; the face square is (cx - face_px // 2, cy - face_px // 2, face_px, face_px).
    `face=None` gives the same kind of scene with nobody in it. `background` (H, W), e.g. from
    make_background, keeps the room the same across the frames of a replay.
    """
    if background is not None:
        if background.shape != (size[1], size[0]):
            raise ValueError(f"background shape {background.shape} does not match size {size}")
        canvas = background.astype(np.float32)  # a copy: the caller's background stays clean
    else:
        canvas = make_background(size, rng)
    if face is not None:
        if face.ndim != 2 or face.dtype != np.uint8:
            raise ValueError(f"face must be a (H, W) uint8 image, got {face.dtype} {face.shape}")
        _silhouette(canvas, face_px, center, rng)
        big = cv2.resize(face, (face_px, face_px), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        x0, y0 = center[0] - face_px // 2, center[1] - face_px // 2
        _paste(canvas, big, _feather_mask(face_px), x0, y0)
    canvas += rng.normal(0.0, 2.0, canvas.shape).astype(np.float32)  # sensor noise
    return np.clip(canvas, 0, 255).astype(np.uint8)


def face_box(face_px: int, center: tuple[int, int]) -> tuple[int, int, int, int]:
    """The (x, y, w, h) square compose_frame puts the face in."""
    return center[0] - face_px // 2, center[1] - face_px // 2, face_px, face_px


# ---------------------------------------------------------------------------------------------
# Labelled replays


def _segment_shots(
    faces: Sequence[np.ndarray], duration_s: float, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray | None, float]]:
    """(face, hold_s) pairs filling `duration_s`, cycling through `faces` in a shuffled order."""
    order = rng.permutation(len(faces)) if faces else np.zeros(0, int)
    elapsed_s, i = 0.0, 0
    while elapsed_s < duration_s:
        hold_s = min(float(rng.uniform(*FACE_HOLD_S)), duration_s - elapsed_s)
        yield (faces[order[i % len(order)]] if len(order) else None), hold_s
        elapsed_s += hold_s
        i += 1


def make_labelled_replay(
    faces_by_emotion: Mapping[str, Sequence[np.ndarray]],
    out_dir: Path,
    *,
    fps: float,
    segments: Sequence[tuple[str | None, float]],
    seed: int,
    size: tuple[int, int] = (640, 480),
    distance_m: tuple[float, float] | None = None,
    faces: Mapping[str, object] | None = None,
    room: np.ndarray | None = None,
    scene: Mapping[str, object] | None = None,
) -> Path:
    """Write out_dir/frames/000000.jpg... and out_dir/truth.json; returns out_dir.

    Each segment (emotion, or None for an empty room; duration in seconds) shows a sequence of
    different faces of that emotion, each held 1-2 s at a slightly jittered place and size, in
    one room (the background stays the same). Frame i is at i / fps seconds.

    `distance_m` (nearest, farthest): a person across the room instead of at arm's length; each
    segment's person sits at one distance in that range (face width from the 66 degree lens
    geometry of detect.geometry) and in one place, as people on a sofa do, while the faces
    (expressions) change. `faces`: where the faces and their labels come from, for truth.json.
    `room`: the (H, W) backdrop of every frame (e.g. with clutter on it), else make_background's;
    `scene`: what is in it, for truth.json.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    for emotion, duration_s in segments:
        if emotion is not None and not faces_by_emotion.get(emotion):
            raise ValueError(f"no faces given for emotion {emotion!r}")
        if duration_s <= 0:
            raise ValueError(f"segment durations must be positive, got {duration_s}")
    out_dir = Path(out_dir)
    frames_dir = out_dir / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    backdrop = make_background(size, rng)  # drawn either way: a seed gives the same faces
    if room is not None and room.shape != (size[1], size[0]):
        raise ValueError(f"room shape {room.shape} does not match size {size}")
    room = backdrop if room is None else room
    truth: list[dict[str, object]] = []
    index, start_s = 0, 0.0
    for emotion, duration_s in segments:
        end_s = start_s + duration_s
        pool = faces_by_emotion[emotion] if emotion is not None else []
        pose = _room_pose(size, distance_m, rng) if distance_m else None
        for frame in _segment_frames(index, pool, start_s, end_s, fps, room, rng, pose):
            path = frames_dir / f"{index:06d}.jpg"
            cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            index += 1
        truth.append({"emotion": emotion, "start_s": round(start_s, 6), "end_s": round(end_s, 6)})
        start_s = end_s
    (out_dir / "truth.json").write_text(
        json.dumps(
            {
                "fps": fps,
                "frames": index,
                "size": list(size),
                "distance_m": list(distance_m) if distance_m else None,
                "segments": truth,
                **({"faces": dict(faces)} if faces else {}),
                **({"scene": dict(scene)} if scene else {}),
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    log.info("wrote %d frames to %s", index, frames_dir)
    return out_dir


def _segment_frames(
    index: int,
    pool: Sequence[np.ndarray],
    start_s: float,
    end_s: float,
    fps: float,
    room: np.ndarray,
    rng: np.random.Generator,
    pose: tuple[int, tuple[int, int]] | None = None,
) -> Iterator[np.ndarray]:
    """Frames for the indices whose time index / fps falls in [start_s, end_s)."""
    size = (room.shape[1], room.shape[0])
    shots = _segment_shots(pool, end_s - start_s, rng)
    shot_end_s = start_s
    face: np.ndarray | None = None
    base_px, base_c, look_seed = 0, (0, 0), 0
    while index / fps < end_s - 1e-9:
        t = index / fps
        if t >= shot_end_s - 1e-9:
            face, hold_s = next(shots, (face, end_s - t))
            shot_end_s += hold_s
            base_px, base_c = pose or _shot_pose(size, rng)
            look_seed = int(rng.integers(2**31))
        # Small per-frame jitter: a person is never perfectly still. The person's look (hair,
        # clothes) and the sensor noise come from a per-shot seed so they hold steady.
        px = max(min(48, base_px), int(base_px * rng.uniform(0.97, 1.03)))
        c = (base_c[0] + int(rng.integers(-4, 5)), base_c[1] + int(rng.integers(-4, 5)))
        look = np.random.default_rng(look_seed)
        yield compose_frame(face, size=size, face_px=px, center=c, rng=look, background=room)
        index += 1


def _shot_pose(size: tuple[int, int], rng: np.random.Generator) -> tuple[int, tuple[int, int]]:
    """Face size and centre for one shot: a person 0.5-1.5 m from a 640x480 camera."""
    w, h = size
    px = int(min(w, h) * rng.uniform(0.3, 0.45))
    cx = int(w / 2 + rng.uniform(-0.2, 0.2) * w)
    cy = int(h * rng.uniform(0.4, 0.5))
    return px, (cx, cy)


def face_zone(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) holding every face box _shot_pose and its jitter can give in a `size` frame."""
    w, h = size
    half = int(min(w, h) * 0.45 * 1.03) // 2 + 5
    x0, y0 = int(w * 0.3) - half, int(h * 0.4) - half
    return x0, y0, int(w * 0.7) + half - x0, int(h * 0.5) + half - y0


def _room_pose(
    size: tuple[int, int], distance_m: tuple[float, float], rng: np.random.Generator
) -> tuple[int, tuple[int, int]]:
    """Face size and centre for a person somewhere across the room, seated (upper half)."""
    w, h = size
    px = round(face_width_px(float(rng.uniform(*distance_m)), w))
    cx = int(w * rng.uniform(0.2, 0.8))
    cy = int(h * rng.uniform(0.35, 0.55))
    return px, (cx, cy)


def room_frames(count: int, seed: int = 0, size: tuple[int, int] = (1280, 720)) -> list[np.ndarray]:
    """`count` frames of one room, each with one real FER-2013 face (the fixtures) at a varied
    place and at 1-4 m: what `moodpi bench` times when no replay is given."""
    faces = [f for group in load_fixture_faces(fixture_faces_dir()).values() for f in group]
    rng = np.random.default_rng(seed)
    room = make_background(size, rng)
    w, h = size
    out = []
    for i in range(count):
        face_px = round(face_width_px(float(rng.uniform(*ROOM_DISTANCES_M)), w))
        center = (int(w * rng.uniform(0.35, 0.65)), int(h * rng.uniform(0.4, 0.5)))
        out.append(
            compose_frame(
                faces[i % len(faces)],
                size=size,
                face_px=face_px,
                center=center,
                rng=rng,
                background=room,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Face sources


def fixture_faces_dir() -> Path:
    """The repository's fixture faces (tests/fixtures/faces), or faces/ in the models dir."""
    from moodpi.config import REPO_ROOT, default_models_dir

    for folder in (REPO_ROOT / "tests" / "fixtures" / "faces", default_models_dir() / "faces"):
        if any(folder.glob("*.png")):
            return folder
    raise FileNotFoundError("no fixture faces to compose frames from; use --source replay:PATH")


def load_faces_npz(
    path: str | Path, *, per_emotion: int | None = None, votes: str | Path | None = None
) -> dict[str, list[np.ndarray]]:
    """FER-2013 faces from an .npz with `images` (N, 48, 48) uint8 and `labels` 0..6.

    `votes`: an .npz of FER+'s votes for the same rows (../shared/data/ferplus): only the faces
    ten people clearly agree on, each under the emotion of that clear majority (lab/fer/votes.py).
    """
    from moodpi.lab.fer.votes import npz_majority

    with np.load(Path(path)) as data:
        images, labels = data["images"], data["labels"]
        names = data["names"].astype(str).tolist() if "names" in data.files else None
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
        raise ValueError(f"{path}: expected images (N, H, W) uint8 and N labels")
    if votes is not None:
        labels = npz_majority(Path(votes), names, len(images), Path(path).name)
    out: dict[str, list[np.ndarray]] = {}
    for i, emotion in enumerate(EMOTIONS):
        picked = images[labels == i][:per_emotion]
        out[emotion] = [np.ascontiguousarray(img) for img in picked]
    return out


def load_fixture_faces(folder: str | Path) -> dict[str, list[np.ndarray]]:
    """Grey PNG faces named <emotion>_<anything>.png, grouped by emotion (sorted by file name)."""
    folder = Path(folder)
    out: dict[str, list[np.ndarray]] = {e: [] for e in EMOTIONS}
    for path in sorted(folder.glob("*.png")):
        emotion = path.name.split("_", 1)[0]
        if emotion not in out:
            continue
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"cannot read face image {path}")
        out[emotion].append(image)
    if not any(out.values()):
        raise FileNotFoundError(f"no <emotion>_*.png faces in {folder}")
    return out
