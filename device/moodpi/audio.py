"""What the player drives: pygame.mixer.music, or a silent stand-in that keeps the wall clock.

Both are used from the player thread only. Environment (read by SDL when the mixer opens):
SDL_AUDIODRIVER (alsa, pulseaudio, pipewire, disk, dummy), AUDIODEV (e.g. hw:1,0),
SDL_DISKAUDIOFILE / SDL_DISKAUDIODELAY for the disk driver.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Protocol

from moodpi.music import Track


class Backend(Protocol):
    """One music stream the player thread drives; `audio` says whether sound comes out."""

    audio: bool

    def load(self, track: Track) -> None: ...
    def play(self, fade_in_ms: int) -> None: ...
    def fadeout(self, ms: int) -> None: ...
    def halt(self) -> None: ...
    def pause(self) -> None: ...
    def unpause(self) -> None: ...
    def set_volume(self, volume: float) -> None: ...
    def busy(self) -> bool: ...
    def position_s(self) -> float: ...
    def close(self) -> None: ...


class MixerBackend:
    """pygame.mixer.music; every call happens on the player thread."""

    audio = True

    def __init__(self, rate_hz: int, size_bits: int, channels: int, buffer_frames: int) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        self._pg = pygame
        # allowedchanges=0: the device gets exactly this format (SDL converts if it must), so the
        # disk driver's output in tests has a known layout.
        pygame.mixer.init(rate_hz, size_bits, channels, buffer_frames, allowedchanges=0)
        self._music = pygame.mixer.music

    def load(self, track: Track) -> None:
        self._music.load(str(track.path))

    def play(self, fade_in_ms: int) -> None:
        self._music.play(loops=0, fade_ms=max(0, fade_in_ms))

    def fadeout(self, ms: int) -> None:
        self._music.fadeout(max(1, ms))

    def halt(self) -> None:
        self._music.stop()

    def pause(self) -> None:
        self._music.pause()

    def unpause(self) -> None:
        self._music.unpause()

    def set_volume(self, volume: float) -> None:
        self._music.set_volume(volume)

    def busy(self) -> bool:
        return bool(self._music.get_busy())  # False while paused (pygame >= 2.0.1)

    def position_s(self) -> float:
        return max(0, self._music.get_pos()) / 1000.0  # audio time played, not wall time

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._music.stop()
            self._music.unload()
        self._pg.mixer.quit()


class SilentBackend:
    """No sound: a track 'plays' for its length on the wall clock (forever if unknown)."""

    audio = False

    def __init__(self) -> None:
        self._track: Track | None = None
        self._started = self._paused_at = 0.0
        self._paused_s = 0.0
        self._end_at: float | None = None  # fade-out end, or halt

    def load(self, track: Track) -> None:
        self._track = track

    def play(self, fade_in_ms: int) -> None:
        self._started, self._paused_s = time.monotonic(), 0.0
        self._end_at, self._paused_at = None, 0.0

    def fadeout(self, ms: int) -> None:
        self._end_at = time.monotonic() + ms / 1000.0

    def halt(self) -> None:
        self._track = None

    def pause(self) -> None:
        self._paused_at = time.monotonic()

    def unpause(self) -> None:
        if self._paused_at:
            self._paused_s += time.monotonic() - self._paused_at
            self._paused_at = 0.0

    def set_volume(self, volume: float) -> None:
        pass

    def busy(self) -> bool:
        if self._track is None or self._paused_at:
            return False
        if self._end_at is not None and time.monotonic() >= self._end_at:
            return False
        length_s = self._track.duration_s
        return length_s <= 0 or self.position_s() < length_s

    def position_s(self) -> float:
        now = self._paused_at or time.monotonic()
        return now - self._started - self._paused_s

    def close(self) -> None:
        self._track = None
