"""The mood → music policies (mirror, uplift, iso) and the track picker, in categories and on
Russell's valence-arousal plane.

Policies are pure: `targets(policy, emotion, config)` gives the tracks to play after a mood
change, the last one repeating, each as a `Target`: a category name and a point (valence,
arousal). mirror aims at the emotion's own point; uplift at the target category's point; iso
walks in `iso_steps` from the emotion's point to the target's (the iso principle of music
therapy: meet the mood, then lead it). `plan` is the same in category names only.

`TrackPicker` serves a target from the user's explicit choice first: a category folder or
playlist of that name, from one shuffle bag per category (no repeat until it is exhausted).
Only when there is none does it place the target on the plane and draw among the analysed
tracks nearest to it (`NEAREST` of them, weighted by closeness and the analysis' confidence),
never one of the last `RECENT` it played, so a small region still varies. A library nothing
has placed yet plays the fallback categories, then its uncategorised music, shuffled.

A category is only a name the policies use (`policy_categories`): a folder or playlist of
another name (an artist, an album, a genre) is just music, placed by the analysis.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from moodpi.config import MusicConfig
from moodpi.music.track import UNSORTED, Track, TrackSource
from moodpi.types import Emotion, Policy

log = logging.getLogger(__name__)

FALLBACK_CATEGORIES = ("ambient", "neutral")
NEAREST = 5  # draw among this many nearest tracks: variety without leaving the region
RECENT = 8  # never replay one of the last RECENT tracks while others are left
Point = tuple[float, float]  # (valence, arousal), each -1..1

# Russell's circumplex (1980) and its facial-expression studies, rounded.
EMOTION_POINTS: dict[Emotion, Point] = {
    "happy": (0.8, 0.5), "surprise": (0.4, 0.8), "angry": (-0.6, 0.8), "fear": (-0.6, 0.6),
    "disgust": (-0.7, 0.3), "sad": (-0.7, -0.4), "neutral": (0.0, -0.1),
}  # fmt: skip
# Where the default categories' music sits (the demo library's styles are made to match).
CATEGORY_POINTS: dict[str, Point] = {
    **{str(e): p for e, p in EMOTION_POINTS.items()},
    "upbeat": (0.7, 0.7), "exciting": (0.5, 0.9), "calming": (0.4, -0.7),
    "relaxing": (0.6, -0.5), "comforting": (0.5, -0.3), "gentle": (0.5, -0.1),
    "ambient": (0.2, -0.8),
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    category: str  # the user's folder or playlist of this name wins when it has tracks
    valence: float
    arousal: float

    @property
    def point(self) -> Point:
        return (self.valence, self.arousal)


def targets(policy: Policy, emotion: Emotion, config: MusicConfig) -> tuple[Target, ...]:
    """The tracks to play after a mood change; the last one repeats from then on."""
    mirror = config.mirror_map.get(emotion, emotion)
    goal = config.uplift_map.get(emotion, mirror)
    start = EMOTION_POINTS.get(emotion, (0.0, 0.0))
    end = CATEGORY_POINTS.get(goal, start)
    if policy == "mirror":
        return (Target(mirror, *start),)
    if policy == "uplift":
        return (Target(goal, *end),)
    names = iso_plan(mirror, goal, config.iso_steps)
    return tuple(
        Target(name, *_between(start, end, k / config.iso_steps)) for k, name in enumerate(names)
    )


def _between(a: Point, b: Point, share: float) -> Point:
    return (round(a[0] + (b[0] - a[0]) * share, 4), round(a[1] + (b[1] - a[1]) * share, 4))


def policy_categories(config: MusicConfig) -> frozenset[str]:
    """The category names the policies ask for: the maps' values and the fallbacks. A folder or
    playlist of one of these names is the user's explicit choice for it."""
    named = set(config.mirror_map.values()) | set(config.uplift_map.values())
    return frozenset(name.lower() for name in named | set(FALLBACK_CATEGORIES))


def plan(policy: Policy, emotion: Emotion, config: MusicConfig) -> tuple[str, ...]:
    """Categories of the tracks to play after a mood change; the last one repeats from then on."""
    return tuple(t.category for t in targets(policy, emotion, config))


def iso_plan(mirror: str, target: str, steps: int) -> tuple[str, ...]:
    """The iso principle with categories only: meet the mood, then move to the target.

    Track k after the change (k = 0 .. steps) stands k/steps of the way from the mood's music to
    the target. There is no music between two categories, so each track takes the nearer end:
    the mood's category while k/steps <= 1/2 (a tie stays with the mood, as iso asks), then the
    target. steps=1: mirror, target. steps=3: mirror, mirror, target, target.
    """
    return tuple(mirror if 2 * k <= steps else target for k in range(steps + 1))


class TrackPicker:
    """Draws tracks per category from shuffle bags; falls back when a category is empty."""

    def __init__(
        self,
        library: TrackSource,
        rng: random.Random | None = None,
        fallbacks: tuple[str, ...] = FALLBACK_CATEGORIES,
    ) -> None:
        self._library = library
        self._rng = rng or random.Random()
        self._fallbacks = fallbacks
        self._bags: dict[str, deque[Path]] = {}
        self._last: dict[str, Path] = {}
        self._excluded: set[Path] = set()
        self._warned: set[str | None] = set()
        self._recent: deque[Path] = deque(maxlen=RECENT)

    def pick(self, category: str) -> Track | None:
        """The next track of `category` (or of its fallback); None when the library is empty."""
        actual = self.resolve(category)
        return None if actual is None else self._remember(self._draw(actual))

    def pick_target(self, target: Target) -> Track | None:
        """The user's `target.category` if it has tracks, else an analysed track near its point
        (labelled with the target's category), else the category fallbacks."""
        if self._playable(target.category) or not self._placed():
            return self.pick(target.category)
        return self._remember(replace(self._nearest(target.point), category=target.category))

    def fits(self, track: Track, target: Target) -> bool:
        """The playing `track` already serves `target` (a mood change may keep it)."""
        if self._playable(target.category) or not self._placed():
            return track.category == self.resolve(target.category)
        return track.category == target.category

    def _placed(self) -> list[Track]:
        return [t for t in self._library.placed_tracks() if t.path not in self._excluded]

    def _nearest(self, point: Point) -> Track:
        placed = self._placed()
        fresh = [t for t in placed if t.path not in self._recent] or placed
        fresh.sort(key=lambda t: (_distance(t, point), str(t.path)))
        near = fresh[:NEAREST]
        weights = [t.confidence * 0.5 + 0.5 for t in near]
        weights = [w / (0.05 + _distance(t, point)) for w, t in zip(weights, near, strict=True)]
        return self._rng.choices(near, weights=weights)[0]

    def _remember(self, track: Track) -> Track:
        self._recent.append(track.path)
        return track

    def resolve(self, category: str) -> str | None:
        """`category` if it has playable tracks, else the fallback; says so once per category."""
        if self._playable(category):
            return category
        candidates = [c for c in self._fallbacks if self._playable(c)]
        if not candidates:  # else the music in no category, else the largest category
            sizes = self._library.categories()
            playable = (c for c in sizes if self._playable(c))
            candidates = [UNSORTED] if self._playable(UNSORTED) else []
            candidates += sorted(playable, key=lambda c: (-sizes[c], c))
        fallback = candidates[0] if candidates else None
        if fallback is None:
            if None not in self._warned:  # once, however many categories ask
                self._warned.add(None)
                log.warning("the music library has no playable tracks: no music")
        elif category not in self._warned:
            self._warned.add(category)
            instead = repr(fallback) if fallback else "the uncategorised music (shuffled)"
            log.warning("no tracks in category %r; playing %s instead", category, instead)
        return fallback

    def exclude(self, path: Path | str) -> None:
        """Never pick this file again (it failed to play); a new Library scan does not undo it."""
        self._excluded.add(Path(path))

    def _playable(self, category: str) -> bool:
        return any(t.path not in self._excluded for t in self._library.tracks(category))

    def _draw(self, category: str) -> Track:
        tracks = {t.path: t for t in self._library.tracks(category) if t.path not in self._excluded}
        bag = self._bags.setdefault(category, deque())
        while True:
            if not bag:
                bag.extend(self._refill(sorted(tracks), self._last.get(category)))
            path = bag.popleft()
            if path in tracks:  # the library may have been rescanned since the bag was filled
                self._last[category] = path
                return tracks[path]

    def _refill(self, paths: list[Path], last: Path | None) -> list[Path]:
        self._rng.shuffle(paths)
        if len(paths) > 1 and paths[0] == last:  # no repeat across the bag boundary either
            swap = self._rng.randrange(1, len(paths))
            paths[0], paths[swap] = paths[swap], paths[0]
        return paths


def _distance(track: Track, point: Point) -> float:
    assert track.valence is not None and track.arousal is not None
    return math.hypot(track.valence - point[0], track.arousal - point[1])
