"""Scenes for the room benchmarks: real people composed by lens geometry, and living-room clutter.

People: real photographs (lfw-expressions, the validation persons of the person-disjoint split)
are composed into camera frames the way a lens of `camera.hfov_deg` sees a person at distance d:
the face box (0.15 m) is `W * 0.15 / (2 d tan(hfov / 2))` pixels wide in a frame W pixels wide,
blended into a room-like backdrop with a feathered edge (no square outline to help a detector).

Clutter: things that are not faces but look a little like one. On real scene photos the
detector's false faces were TV-channel logos, a round "'15" badge, a chandelier, a leather jacket
and a dark sleeve (issue 28); smooth synthetic backdrops never showed such things. Rendered
items (round badges and channel logos with text, lamps with bright bulbs, striped and checked
cloth, dark sleeves, bookshelves) and, where scikit-image is installed, pieces of its bundled
photographs that hold no human face (a cat, coffee, coins, a clock, a rocket, the moon, printed
text, its logo; public domain / CC0, listed in skimage/data/README.txt).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from moodpi.config import Config
from moodpi.lab import evaluate_photos
from moodpi.lab.evaluate_photos import LabelledPhoto
from moodpi.lab.replaygen import make_background
from moodpi.perception.detect.geometry import face_width_px
from moodpi.perception.detect.whole_frame import WholeFrameDetector
from moodpi.types import EMOTIONS, Face

DISTANCES_M = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
Box = tuple[float, float, float, float]  # x, y, w, h


@dataclasses.dataclass(frozen=True)
class Photo:
    image: np.ndarray  # (H, W) uint8
    box: Face  # the face in the photo (short-range BlazeFace on the photo itself)
    label: str


@dataclasses.dataclass(frozen=True)
class Person:
    photo: Photo
    distance_m: float
    box: Box  # the face in the frame


def load_photos(folder: Path, count: int, config: Config) -> list[Photo]:
    """News photos (350x350) of validation persons with a face the detector finds up close, in
    an order that mixes persons and classes (by the hash of the file's name in labels.csv)."""
    reference = WholeFrameDetector(config.model_path(config.faces.model))

    def shuffled(photo: LabelledPhoto) -> bytes:
        return hashlib.sha256(photo.path.relative_to(folder).as_posix().encode()).digest()

    photos: list[Photo] = []
    for labelled in sorted(evaluate_photos.load_photos(folder, "val"), key=shuffled):
        if len(photos) >= count:
            break
        path = labelled.path
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
        if image is None or image.shape != (350, 350):
            continue  # film-frame crops fill the whole image: no room around the face
        found = reference.detect(image)
        if found:
            photos.append(Photo(image, max(found, key=lambda b: b.area), EMOTIONS[labelled.label]))
    return photos


def compose_scene(
    people: Sequence[tuple[Photo, float]],
    size: tuple[int, int],
    hfov_deg: float,
    rng: np.random.Generator,
    clutter: int = 0,
) -> tuple[np.ndarray, list[Person]]:
    """A (H, W) frame with each photo scaled so its face is as wide as at its distance, and
    `clutter` items of clutter around them (never over a person's photo)."""
    w, h = size
    canvas = make_background(size, rng).astype(np.float32)
    placed: list[Person] = []
    around: list[Box] = []
    slots = np.linspace(0.15, 0.85, len(people) + 2)[1:-1] if len(people) > 1 else [None]
    for (photo, distance), slot in zip(people, slots, strict=True):
        scale = face_width_px(distance, w, hfov_deg) / photo.box.w
        side = max(4, round(photo.image.shape[1] * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        patch = cv2.resize(photo.image, (side, side), interpolation=interp).astype(np.float32)
        centre_x = rng.uniform(0.1, 0.9) if slot is None else float(slot)
        x0 = int(np.clip(centre_x * w - side / 2, 0, max(0, w - side)))
        y0 = int(np.clip(rng.uniform(0.25, 0.6) * h - side / 2, 0, max(0, h - side)))
        _blend(canvas, patch, x0, y0)
        around.append((x0, y0, side, side))
        b = photo.box
        placed.append(
            Person(photo, distance, (x0 + b.x * scale, y0 + b.y * scale, b.w * scale, b.h * scale))
        )
    add_clutter(canvas, rng, clutter, keep_out=around)
    canvas += rng.normal(0.0, 2.0, canvas.shape).astype(np.float32)  # sensor noise
    return np.clip(canvas, 0, 255).astype(np.uint8), placed


def _blend(canvas: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    side = patch.shape[0]
    mask = np.zeros((side, side), np.float32)
    r = side / 2
    cv2.ellipse(
        mask, (round(r), round(r)), (round(0.48 * side), round(0.5 * side)), 0, 0, 360, 1.0, -1
    )
    alpha = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.05 * side))  # feathered: no hard edge
    h, w = canvas.shape
    ph, pw = min(side, h - y0), min(side, w - x0)
    region = canvas[y0 : y0 + ph, x0 : x0 + pw]
    region += alpha[:ph, :pw] * (patch[:ph, :pw] - region)


def matches(face: Face, box: Box) -> bool:
    """The detection is this person's face: centres within half a face, sizes within 2x."""
    x, y, w, h = box
    dx = abs(face.x + face.w / 2 - (x + w / 2))
    dy = abs(face.y + face.h / 2 - (y + h / 2))
    return dx < w / 2 and dy < h / 2 and 0.5 < face.w / w < 2.0


def scenes(photos: Sequence[Photo], seed: int) -> Iterator[list[tuple[Photo, float]]]:
    """For each distance and photo one scene; every third one with a second person."""
    rng = np.random.default_rng(seed)
    for distance in DISTANCES_M:
        for i, photo in enumerate(photos):
            people = [(photo, distance)]
            if i % 3 == 2:
                other = photos[(i * 7 + 3) % len(photos)]
                people.append((other, float(rng.choice(DISTANCES_M))))
            yield people


# scikit-image's bundled images without a person in them (astronaut and camera show faces)
SKIMAGE_NAMES = (
    "logo", "coffee", "rocket", "chelsea", "coins", "clock", "text", "page", "horse", "moon",
    "hubble_deep_field", "checkerboard", "brick", "gravel", "grass", "retina", "cell",
)  # fmt: skip
BADGE_TEXT = ("'15", "HD", "24", "TV", "ON", "1", "LIVE")
CHANNEL_TEXT = ("BBC", "CNN", "ZDF", "3sat", "ARD", "RTL", "N24")


@cache
def photo_pieces() -> tuple[np.ndarray, ...]:
    """Grey uint8 images from scikit-image's data, or none when it is not installed."""
    try:
        from skimage import data
    except ImportError:
        return ()
    out = []
    for name in SKIMAGE_NAMES:
        image = np.asarray(getattr(data, name)())
        if image.dtype == np.bool_:
            image = image.astype(np.uint8) * 255
        elif image.dtype != np.uint8:
            span = float(np.ptp(image)) or 1.0
            scaled = 255.0 * (image.astype(np.float32) - float(image.min())) / span
            image = scaled.astype(np.uint8)
        if image.ndim == 3:
            image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
        out.append(image)
    return tuple(out)


def _grey(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(rng.integers(lo, hi))


def badge(rng: np.random.Generator, side: int) -> np.ndarray:
    """A round sticker or clock face with a few bright characters on it."""
    img = np.full((side, side), _grey(rng, 60, 200), np.uint8)
    cv2.circle(img, (side // 2, side // 2), side // 2 - 2, _grey(rng, 0, 80), -1)
    text = str(rng.choice(BADGE_TEXT))
    cv2.putText(img, text, (side // 6, int(side * 0.62)), cv2.FONT_HERSHEY_SIMPLEX,
                side / 70, 255, max(1, side // 25))  # fmt: skip
    return img


def screen(rng: np.random.Generator, side: int) -> np.ndarray:
    """A television: a dark frame, a lit picture, a channel logo in its corner."""
    img = np.full((side, side), _grey(rng, 0, 30), np.uint8)
    cv2.rectangle(img, (3, 3), (side - 4, side - 4), _grey(rng, 90, 200), -1)
    text = str(rng.choice(CHANNEL_TEXT))
    cv2.putText(img, text, (side // 8, side // 4), cv2.FONT_HERSHEY_DUPLEX,
                side / 150, 255, max(1, side // 60))  # fmt: skip
    return img


def lamp(rng: np.random.Generator, side: int) -> np.ndarray:
    """A chandelier: bright bulbs with a glow in a dim corner."""
    img = np.full((side, side), _grey(rng, 30, 90), np.uint8)
    for _ in range(int(rng.integers(3, 8))):
        centre = (int(rng.integers(0, side)), int(rng.integers(side // 4, side)))
        cv2.circle(img, centre, int(rng.integers(3, max(4, side // 6))), 255, -1)
    return cv2.GaussianBlur(img, (0, 0), 2)


def cloth(rng: np.random.Generator, side: int) -> np.ndarray:
    """Striped or checked fabric at some angle."""
    period = int(rng.integers(4, 16))
    x = np.arange(side)
    stripes = (x[None, :] // period) % 2
    if rng.random() < 0.5:
        stripes = stripes ^ ((x[:, None] // period) % 2)
    img = (stripes * 120 + 60).astype(np.uint8) * np.ones((side, 1), np.uint8)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(0, 180)), 1.0)
    return cv2.warpAffine(img, turn, (side, side), borderMode=cv2.BORDER_REFLECT)


def sleeve(rng: np.random.Generator, side: int) -> np.ndarray:
    """A dark sleeve or leather jacket: a dark elongated shape on a lighter ground."""
    img = np.full((side, side), _grey(rng, 120, 200), np.uint8)
    axes = (side // 2 - 2, max(2, side // 5))
    cv2.ellipse(img, (side // 2, side // 2), axes, float(rng.uniform(0, 180)), 0, 360,
                _grey(rng, 5, 50), -1)  # fmt: skip
    return img


def shelf(rng: np.random.Generator, side: int) -> np.ndarray:
    """Book spines: vertical bars of many greys."""
    img = np.full((side, side), _grey(rng, 20, 60), np.uint8)
    x = 0
    while x < side:
        w = int(rng.integers(3, 12))
        img[side // 8 :, x : x + w] = _grey(rng, 40, 230)
        x += w + 1
    return img


RENDERED: tuple[Callable[[np.random.Generator, int], np.ndarray], ...] = (
    badge, screen, lamp, cloth, sleeve, shelf,
)  # fmt: skip


def clutter_item(rng: np.random.Generator, side: int) -> np.ndarray:
    """One square item, rendered or (half the time, when available) cut from a photograph."""
    pieces = photo_pieces()
    if pieces and rng.random() < 0.5:
        image = pieces[int(rng.integers(len(pieces)))]
        if rng.random() < 0.5:  # the whole picture, as a poster
            return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        h, w = image.shape
        cut = min(h, w, max(side, 32))
        y, x = int(rng.integers(0, h - cut + 1)), int(rng.integers(0, w - cut + 1))
        return cv2.resize(image[y : y + cut, x : x + cut], (side, side))
    return RENDERED[int(rng.integers(len(RENDERED)))](rng, side)


def add_clutter(
    canvas: np.ndarray,
    rng: np.random.Generator,
    count: int,
    keep_out: list[Box] | None = None,
    largest: int = 260,
) -> None:
    """Paste `count` items (30 to `largest` px) onto a grey float or uint8 canvas, in place,
    away from the (x, y, w, h) boxes in `keep_out` (the people's faces)."""
    h, w = canvas.shape[:2]
    for _ in range(count):
        side = int(rng.integers(30, min(largest, h, w)))
        for _try in range(20):
            x0, y0 = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
            if not any(_overlaps((x0, y0, side, side), box) for box in keep_out or []):
                canvas[y0 : y0 + side, x0 : x0 + side] = clutter_item(rng, side)
                break


def _overlaps(a: Box, b: Box) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return bool(ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah)


def clutter_frame(rng: np.random.Generator, size: tuple[int, int], count: int = 10) -> np.ndarray:
    """An empty room: a (H, W) uint8 backdrop with `count` items of clutter and sensor noise."""
    canvas = make_background(size, rng).astype(np.float32)
    add_clutter(canvas, rng, count)
    canvas += rng.normal(0.0, 2.0, canvas.shape).astype(np.float32)
    return np.clip(canvas, 0, 255).astype(np.uint8)
