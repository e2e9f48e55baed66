"""What the player drives: pygame.mixer.music, or a silent stand-in that keeps the wall clock, and
`AudioOutput`, which keeps one of them open: the mixer while there is a sound device, the silent
one while there is none, with the device retried on a backoff.

All of it is used from the player thread only. Environment (read by SDL when the mixer opens):
SDL_AUDIODRIVER (alsa, pulseaudio, pipewire, disk, dummy), AUDIODEV (e.g. hw:1,0),
SDL_DISKAUDIOFILE / SDL_DISKAUDIODELAY for the disk driver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Protocol

from moodpi.music.decoded import DecodedFile
from moodpi.music.library.formats import plays_natively
from moodpi.music.track import Track
from moodpi.system.quiet import native_quiet

log = logging.getLogger(__name__)


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
        with native_quiet():  # ALSA's own lines on a box without a card
            pygame.mixer.init(rate_hz, size_bits, channels, buffer_frames, allowedchanges=0)
        self._music = pygame.mixer.music
        self._decoded: DecodedFile | None = None  # the track PyAV decodes for the mixer

    def load(self, track: Track) -> None:
        self._forget_decoded()
        if plays_natively(track.path):
            # The file system's bytes: pygame cannot find a str name that is not UTF-8 (issue 18).
            self._music.load(os.fsencode(track.path))
            return
        self._decoded = DecodedFile(track.path, track.duration_s)  # AAC and the rest: PyAV
        self._music.load(self._decoded.path)

    def _forget_decoded(self) -> None:
        if self._decoded is not None:
            self._decoded.close()
            self._decoded = None

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
        played_s = max(0, self._music.get_pos()) / 1000.0  # audio time played, not wall time
        if self._decoded is not None:
            self._decoded.played(played_s)  # paces its decoder, which gives back what was heard
        return played_s

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._music.stop()
            self._music.unload()
        self._forget_decoded()
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


class AudioOutput:
    """The backend in use, kept working: the mixer when the device opens, else the silent one.

    Without a device (none at start, or one given up by `lose`) it tries the device again after
    2 s, doubling up to 60 s (`reopen_s`), whenever the player calls `reopen` between tracks.
    """

    def __init__(
        self,
        mixer_args: tuple[int, int, int, int],
        *,
        want_audio: bool = True,
        reopen_s: tuple[float, float] = (2.0, 60.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend: Backend = SilentBackend()
        self._mixer_args = mixer_args
        self._want_audio = want_audio
        self._first_s, self._max_s = reopen_s
        self._clock = clock
        self._after_s = self._first_s
        self._retry_at: float | None = None

    def open(self) -> str:
        """Open the device; returns why there is no sound ("" when there is, or it is off)."""
        if not self._want_audio:
            log.info("audio off: tracks are reported, not played")
            return ""
        try:
            self.backend = MixerBackend(*self._mixer_args)
        except Exception as exc:  # no device, no driver, pygame missing: keep running silently
            self._schedule_retry()
            return f"no audio device: {exc}"
        return ""

    def lose(self) -> None:
        """Give the device up (it stopped taking sound): silent from now on, retried."""
        self.close()
        self._schedule_retry()

    def reopen(self) -> bool:
        """Try the device if a retry is due; True when sound is back."""
        if self._retry_at is None or self._clock() < self._retry_at:
            return False
        try:
            mixer = MixerBackend(*self._mixer_args)
        except Exception as exc:
            self._after_s = min(self._after_s * 2, self._max_s)
            self._retry_at = self._clock() + self._after_s
            log.debug("audio device still unavailable (%s); next try in %.0f s", exc, self._after_s)
            return False
        self.close()
        self.backend, self._retry_at = mixer, None
        return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.backend.close()
        self.backend = SilentBackend()

    def _schedule_retry(self) -> None:
        self._after_s = self._first_s
        self._retry_at = self._clock() + self._after_s
