"""The player thread's side of playback: one track at a time on the mixer, fades, stalls, events.

Only the player thread (moodpi.music.player) calls into a `Playback`; it owns pygame.mixer
through the `AudioOutput`. States: stopped, playing, pausing (volume ramping down), paused,
fading (fade_out running), switching (fading out before the next track starts). Every change a
listener should know of is reported through `on_event` with the typed events of moodpi.events.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from moodpi.events import (
    ComponentError,
    PlayerEvent,
    Recovered,
    TrackEnded,
    TrackInfo,
    TrackSkipped,
    TrackStarted,
)
from moodpi.music.audio import AudioOutput, Backend
from moodpi.music.track import OFF, Levelling, Track

log = logging.getLogger(__name__)

EventCallback = Callable[[PlayerEvent], None]


class Playback:
    def __init__(
        self,
        output: AudioOutput,
        on_event: EventCallback | None,
        *,
        volume: float,
        poll_s: float,
        stall_s: float,
        levelling: Levelling = OFF,
    ) -> None:
        self._output = output
        self._levelling = levelling
        self._level = 1.0  # the current track's loudness levelling, on top of the others
        self._on_event = on_event
        self._volume = min(1.0, max(0.0, volume))
        self._poll_s = poll_s
        self._stall_s = stall_s
        self._failed_callback = False
        self.current: Track | None = None
        self.state = "stopped"
        self._next: tuple[Track, int] | None = None
        self._gain = 1.0  # fade ramps, on top of the user's volume
        self._ramp: tuple[float, float, float, float] | None = None  # t0, length_s, from, to
        self._position_s = 0.0
        self._progress_at = 0.0  # when the played position last moved

    def open(self) -> None:
        problem = self._output.open()
        if problem:
            log.error("%s: running without sound, retrying", problem)
            self._emit(ComponentError("audio", problem))

    def close(self) -> None:
        self._output.close()

    def maybe_reopen(self) -> None:
        """Silent for want of a device: try it again, between tracks only (no jump mid-song)."""
        if self.current is None and self._output.reopen():
            log.warning("audio device available again: playing with sound")
            self._emit(Recovered("audio", "audio device open"))

    def fail(self, exc: Exception) -> None:
        """A command or poll raised: drop the track (reported as skipped), keep the player."""
        log.exception("player error")
        track = self.current
        self._drop_current()
        if track is not None:
            self._skip(track, f"player error: {exc}")

    def play(self, track: Track, fade_in_ms: int, crossfade_ms: int) -> None:
        if self.state == "switching":
            self._next = (track, fade_in_ms)  # a newer choice replaces the queued one
        elif self.state in ("playing", "fading") and crossfade_ms > 0:
            if self.state == "playing":
                self._backend_().fadeout(crossfade_ms)
            self.state, self._next, self._ramp = "switching", (track, fade_in_ms), None
        else:
            self._end_current("replaced")
            self._start(track, fade_in_ms)

    def fade_out(self, ms: int) -> None:
        if self.current is None:
            return
        if self.state in ("paused", "pausing") or ms <= 0:
            self._end_current("faded")
            return
        if self.state == "playing":
            self._backend_().fadeout(ms)
        self.state, self._next = "fading", None  # switching: its fade-out is already running

    def pause(self, fade_ms: int) -> None:
        if self.state == "switching":
            self._finish_switch()  # the incoming track is the one to pause
        if self.state != "playing":
            return
        if fade_ms <= 0:
            self._backend_().pause()
            self.state = "paused"
        else:
            self._ramp = (time.monotonic(), fade_ms / 1000.0, self._gain, 0.0)
            self.state = "pausing"

    def resume(self, fade_ms: int) -> None:
        if self.state not in ("paused", "pausing"):
            return
        if self.state == "paused":
            self._backend_().unpause()
        self._ramp = (time.monotonic(), max(fade_ms, 1) / 1000.0, self._gain, 1.0)
        self.state, self._progress_at = "playing", time.monotonic()  # a pause is no stall

    def skip(self) -> None:
        track = self._next[0] if self._next else self.current
        self._end_current("replaced" if self._next else None)
        if track is not None:
            self._skip(track, "user")

    def set_volume(self, volume: float) -> None:
        self._volume = volume
        if self.current is not None:
            self._apply_volume()

    def poll(self) -> None:
        if self._ramp is not None:
            self._advance_ramp()
        if self.current is None or self.state == "paused":
            return
        backend = self._backend_()
        if backend.busy():
            self._track_progress(backend)
            return
        if self.state == "switching":
            self._finish_switch()
        elif self.state == "fading":
            self._end_current("faded")
        else:
            self._end_current("finished")

    def _track_progress(self, backend: Backend) -> None:
        """Notice a sound device that stopped taking audio (a USB speaker unplugged mid-song).

        SDL then stops calling the mixer, so the played position freezes while the music still
        counts as busy. After `stall_s` of that the player gives the device up: it goes on
        silently with the same track, says so, and retries the device as when none was found.
        """
        now = time.monotonic()
        position_s = backend.position_s()
        if position_s > self._position_s or self.state != "playing" or not backend.audio:
            self._position_s = max(self._position_s, position_s)
            self._progress_at = now
        elif now - self._progress_at > self._stall_s:
            self._lose_device(f"the audio device took no sound for {self._stall_s:g} s")

    def _lose_device(self, why: str) -> None:
        track = self.current
        self._drop_current()
        self._output.lose()
        log.error("%s (unplugged?): playing on without sound, retrying the device", why)
        self._emit(ComponentError("audio", why))
        if track is not None:
            self._start(track, 0)  # the same track, silently, so the director's plan holds

    def _advance_ramp(self) -> None:
        assert self._ramp is not None
        t0, length_s, start, end = self._ramp
        done = min(1.0, (time.monotonic() - t0) / length_s)
        self._gain = start + (end - start) * done
        self._apply_volume()
        if done >= 1.0:
            self._ramp = None
            if self.state == "pausing":
                self._backend_().pause()
                self.state = "paused"

    def _finish_switch(self) -> None:
        upcoming = self._next
        self._end_current("replaced")
        if upcoming is not None:
            self._start(*upcoming)

    def _start(self, track: Track, fade_in_ms: int) -> None:
        problem = _unplayable(track.path)
        if problem:
            self._skip(track, problem)
            return
        backend = self._backend_()
        try:
            backend.load(track)
            self._gain, self._ramp = 1.0, None
            self._level = self._levelling.gain(track)
            self._apply_volume()
            backend.play(fade_in_ms)
        except Exception as exc:  # pygame.error for corrupt or unsupported files
            self._skip(track, f"cannot play: {exc}")
            return
        self.current, self.state, self._position_s = track, "playing", 0.0
        self._progress_at = time.monotonic()
        self._emit(TrackStarted(self._info(track), fade_in_ms=fade_in_ms))

    def _end_current(self, reason: str | None) -> None:
        """Halt the current track; report it ended with `reason` (None: report nothing)."""
        track, played_s = self.current, self._position_s
        self._drop_current()
        if track is not None and reason is not None:
            self._emit(TrackEnded(self._info(track), reason=reason, played_s=round(played_s, 3)))

    def _drop_current(self) -> None:
        if self.current is not None:
            with contextlib.suppress(Exception):
                self._backend_().halt()
        self.current, self._next, self._ramp, self.state = None, None, None, "stopped"

    def shutdown(self, fade_ms: int) -> None:
        if self.current is not None and fade_ms > 0 and self.state in ("playing", "switching"):
            backend = self._backend_()
            backend.fadeout(fade_ms)
            deadline = time.monotonic() + fade_ms / 1000.0 + 0.5
            while backend.busy() and time.monotonic() < deadline:
                time.sleep(self._poll_s)
        self._end_current("stopped")

    def _skip(self, track: Track, reason: str) -> None:
        if reason != "user":
            log.warning("skipping %s: %s", track.path, reason)
        self._emit(TrackSkipped(self._info(track), reason=reason))

    def _apply_volume(self) -> None:
        self._backend_().set_volume(self._volume * self._gain * self._level)

    def _backend_(self) -> Backend:
        return self._output.backend

    def _info(self, track: Track) -> TrackInfo:
        audio = self._output.backend.audio
        return TrackInfo(
            str(track.path), track.category, track.title, track.artist, track.duration_s, audio
        )

    def _emit(self, event: PlayerEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # the consumer's bug must not stop the music
            if not self._failed_callback:
                self._failed_callback = True
                log.exception("player event callback failed (further failures are silent)")


def _unplayable(path: Path) -> str:
    """Why a file cannot even be tried (empty: it can be)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing file"
    except OSError as exc:
        return f"cannot read file: {exc.strerror}"
    if not path.is_file():
        return "not a file"
    if st.st_size == 0:
        return "empty file"
    return ""
