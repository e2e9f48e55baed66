"""Living-room clutter for the benchmarks: things that are not faces but look a little like one.

On real scene photos the detector's false faces were TV-channel logos, a round "'15" badge, a
chandelier, a leather jacket and a dark sleeve (issue 28). The distance and mood benches composed
people onto smooth synthetic backdrops, which never showed such things. `clutter_frame` adds
them: rendered items (round badges and channel logos with text, lamps with bright bulbs, striped
and checked cloth, dark sleeves, bookshelves) and, where scikit-image is installed, pieces of its
bundled photographs that hold no human face (a cat, coffee, coins, a clock, a rocket, the moon,
printed text, its logo; public domain / CC0, listed in skimage/data/README.txt).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import cv2
import numpy as np

from moodpi.lab.replaygen import make_background

# scikit-image's bundled images without a person in them (astronaut and camera show faces)
SKIMAGE_NAMES = (
    "logo", "coffee", "rocket", "chelsea", "coins", "clock", "text", "page", "horse", "moon",
    "hubble_deep_field", "checkerboard", "brick", "gravel", "grass", "retina", "cell",
)  # fmt: skip
BADGE_TEXT = ("'15", "HD", "24", "TV", "ON", "1", "LIVE")
CHANNEL_TEXT = ("BBC", "CNN", "ZDF", "3sat", "ARD", "RTL", "N24")
Box = tuple[float, float, float, float]  # x, y, w, h


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
    canvas: np.ndarray, rng: np.random.Generator, count: int, keep_out: list[Box] | None = None
) -> None:
    """Paste `count` items (30-260 px) onto a grey float or uint8 canvas, in place, away from
    the (x, y, w, h) boxes in `keep_out` (the people's faces)."""
    h, w = canvas.shape[:2]
    for _ in range(count):
        side = int(rng.integers(30, min(260, h, w)))
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
