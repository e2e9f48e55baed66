"""What the director asks of the player: small frozen actions, and the interface that runs them.

The director (pure policy) returns actions; `apply` carries them out on any `Player`. The
player never imports the director, and the director never touches pygame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from moodpi.music.track import Track


@dataclass(frozen=True)
class Play:
    """Play `track`: fade the current one out over `crossfade_ms` (0: cut), then fade in.

    pygame.mixer.music is one stream, so a crossfade is a fade-out followed by a fade-in; the
    director splits `fade_ms` between the two so the whole change takes `fade_ms`.
    """

    track: Track
    fade_in_ms: int = 0
    crossfade_ms: int = 0


@dataclass(frozen=True)
class Pause:
    fade_ms: int = 0


@dataclass(frozen=True)
class Resume:
    fade_ms: int = 0


@dataclass(frozen=True)
class Stop:
    fade_ms: int = 0


Action = Play | Pause | Resume | Stop


class Player(Protocol):
    def start(self) -> None: ...

    def stop(self, fade_ms: int = 0) -> None: ...

    def play(self, track: Track, fade_in_ms: int = 0, crossfade_ms: int = 0) -> None: ...

    def fade_out(self, ms: int) -> None: ...

    def pause(self, fade_ms: int = 0) -> None: ...

    def resume(self, fade_ms: int = 0) -> None: ...

    def skip(self) -> None: ...

    def set_volume(self, volume: float) -> None: ...

    @property
    def now_playing(self) -> Track | None: ...

    @property
    def state(self) -> str: ...


def apply(player: Player, actions: Iterable[Action]) -> None:
    """Carry out the director's actions."""
    for action in actions:
        if isinstance(action, Play):
            player.play(action.track, action.fade_in_ms, action.crossfade_ms)
        elif isinstance(action, Pause):
            player.pause(action.fade_ms)
        elif isinstance(action, Resume):
            player.resume(action.fade_ms)
        elif isinstance(action, Stop):
            player.stop(action.fade_ms)
