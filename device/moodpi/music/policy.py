"""The mood → music policies (mirror, uplift, iso) and the track picker.

Policies are pure: `plan(policy, emotion, config)` gives the categories of the tracks to play after
a mood change, the last one repeating. `TrackPicker` draws tracks from a category with one
shuffle bag per category, so no track repeats until its category is exhausted.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from pathlib import Path

from moodpi.config import MusicConfig
from moodpi.music.library import Track, TrackSource
from moodpi.types import Emotion, Policy

log = logging.getLogger(__name__)

FALLBACK_CATEGORIES = ("ambient", "neutral")


def plan(policy: Policy, emotion: Emotion, config: MusicConfig) -> tuple[str, ...]:
    """Categories of the tracks to play after a mood change; the last one repeats from then on."""
    mirror = config.mirror_map.get(emotion, emotion)
    target = config.uplift_map.get(emotion, mirror)
    if policy == "mirror":
        return (mirror,)
    if policy == "uplift":
        return (target,)
    return iso_plan(mirror, target, config.iso_steps)


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
        self._warned: set[str] = set()

    def pick(self, category: str) -> Track | None:
        """The next track of `category` (or of its fallback); None when the library is empty."""
        actual = self.resolve(category)
        return None if actual is None else self._draw(actual)

    def resolve(self, category: str) -> str | None:
        """`category` if it has playable tracks, else the fallback; says so once per category."""
        if self._playable(category):
            return category
        candidates = [c for c in self._fallbacks if self._playable(c)]
        if not candidates:  # else the largest category, so the choice is stable
            sizes = self._library.categories()
            playable = (c for c in sizes if self._playable(c))
            candidates = sorted(playable, key=lambda c: (-sizes[c], c))
        fallback = candidates[0] if candidates else None
        if fallback is None:
            if "" not in self._warned:  # once, however many categories ask
                self._warned.add("")
                log.warning("the music library has no playable tracks: no music")
        elif category not in self._warned:
            self._warned.add(category)
            log.warning("no tracks in category %r; playing %r instead", category, fallback)
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
