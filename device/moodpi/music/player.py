"""Playback: the pygame player (the interface it implements is moodpi.music.actions.Player).

`PygamePlayer` owns pygame.mixer in its own thread: the public methods only put a command on a
bounded queue and return, so a slow audio device never blocks the main loop. The thread polls
`pygame.mixer.music.get_busy()` to notice the end of a track (no `set_endevent`: pygame events
need the display/event subsystem, which a headless daemon does not have) and reports what
happened through `on_event(event)`, called from the player thread, with the typed events of
moodpi.events:

    TrackStarted; TrackEnded, reason: finished (natural end) | faded (fade_out) | replaced (by
    play) | stopped (stop); TrackSkipped, reason: "user" (skip()), or why the file could not be
    played: missing, empty, corrupt or unsupported (pygame cannot open it); ComponentError
    ("audio"): no audio device, or it stopped taking sound; Recovered ("audio"): the device
    opened on a retry.

A file that cannot be played is skipped and reported, never fatal. A damaged file that pygame
still opens plays what it can and ends early, reported as finished (the library scan already
leaves out files whose length mutagen cannot read). `played_s` is the mixer's count of audio
time, for information only. Without an audio device (`pygame.mixer.init` fails) the player says
so once and goes on as with `--no-audio`: it reports what would have played, with
`"audio": false`, and ends tracks after their length on the wall clock. Meanwhile it tries the
device again with backoff (2 s doubling to 60 s): a USB speaker plugged in late, or a sound server
that starts after us at boot, is picked up at the next track boundary without a restart. A device
that stops taking sound while a track plays (its position frozen for `stall_s`, e.g. unplugged) is
given up the same way: the track goes on silently and the device is retried.

One music stream means no true crossfade: `play(crossfade_ms=...)` fades the current track out,
then fades the new one in. Pause and resume with a fade ramp the volume, so the track keeps its
position.

The backends (the mixer, and the silent one) and the SDL environment are in moodpi.audio.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from moodpi.events import (
    ComponentError,
    PlayerEvent,
    Recovered,
    TrackEnded,
    TrackSkipped,
    TrackStarted,
)
from moodpi.music.audio import AudioOutput, Backend
from moodpi.music.library import Track

log = logging.getLogger(__name__)

EventCallback = Callable[[PlayerEvent], None]


class _TrackFields(TypedDict):
    path: str
    category: str
    title: str
    artist: str
    duration_s: float
    audio: bool


class PygamePlayer:
    """The real player; one per process (pygame.mixer is process-wide).

    States: stopped, playing, pausing (volume ramping down), paused, fading (fade_out running),
    switching (fading out before the next track starts).
    """

    STOP_FADE_MAX_MS = 2000  # SIGTERM must end the daemon within a few seconds, fade or not

    def __init__(
        self,
        on_event: EventCallback | None = None,
        *,
        volume: float = 0.8,
        audio: bool = True,
        frequency_hz: int = 44100,
        size_bits: int = -16,
        channels: int = 2,
        buffer_frames: int = 2048,
        poll_s: float = 0.02,
        queue_size: int = 64,
        reopen_s: tuple[float, float] = (2.0, 60.0),
        stall_s: float = 5.0,
    ) -> None:
        self._on_event = on_event
        self._volume = min(1.0, max(0.0, volume))
        mixer_args = (frequency_hz, size_bits, channels, buffer_frames)
        self._output = AudioOutput(mixer_args, want_audio=audio, reopen_s=reopen_s)
        self._poll_s = poll_s
        self._commands: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed_callback = False
        self.dropped_commands = 0
        # Owned by the player thread from start() on; read elsewhere only as plain attributes.
        self._current: Track | None = None
        self._state = "stopped"
        self._next: tuple[Track, int] | None = None
        self._gain = 1.0  # fade ramps, on top of the user's volume
        self._ramp: tuple[float, float, float, float] | None = None  # t0, length_s, from, to
        self._position_s = 0.0
        self._stall_s = stall_s
        self._progress_at = 0.0  # when the played position last moved

    # -- the interface: every method only queues a command ---------------------------------------

    @property
    def now_playing(self) -> Track | None:
        return self._current

    @property
    def state(self) -> str:
        return self._state

    @property
    def audio(self) -> bool:
        """Whether sound really comes out (False: no device, or --no-audio)."""
        return self._output.backend.audio

    def start(self) -> None:
        if self._thread is not None:
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="moodpi-player", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10.0):
            log.warning("audio device still opening after 10 s; commands wait in the queue")

    def stop(self, fade_ms: int = 0) -> None:
        thread = self._thread
        if thread is None:
            return
        fade_ms = min(max(0, fade_ms), self.STOP_FADE_MAX_MS)
        self._send("stop", fade_ms, urgent=True)
        thread.join(timeout=fade_ms / 1000.0 + 3.0)
        if thread.is_alive():
            log.error("player thread did not stop in time")
        self._thread = None

    def play(self, track: Track, fade_in_ms: int = 0, crossfade_ms: int = 0) -> None:
        self._send("play", track, fade_in_ms, crossfade_ms)

    def fade_out(self, ms: int) -> None:
        self._send("fade_out", ms)

    def pause(self, fade_ms: int = 0) -> None:
        self._send("pause", fade_ms)

    def resume(self, fade_ms: int = 0) -> None:
        self._send("resume", fade_ms)

    def skip(self) -> None:
        self._send("skip")

    def set_volume(self, volume: float) -> None:
        """0.0 .. 1.0 (clamped); anything not a number is a ValueError here, in the caller."""
        value = float(volume)
        if value != value:
            raise ValueError("volume is NaN")
        self._send("volume", min(1.0, max(0.0, value)))

    def _send(self, *command: Any, urgent: bool = False) -> None:
        try:
            self._commands.put_nowait(command)
            return
        except queue.Full:
            pass
        if urgent:  # stop must get through: make room by dropping the oldest command
            with contextlib.suppress(queue.Empty):
                self._commands.get_nowait()
            with contextlib.suppress(queue.Full):
                self._commands.put(command, timeout=1.0)
                return
        self.dropped_commands += 1
        log.warning("player queue full: dropped %s (%d so far)", command[0], self.dropped_commands)

    # -- the player thread ------------------------------------------------------------------

    def _run(self) -> None:
        problem = self._output.open()
        if problem:
            log.error("%s: running without sound, retrying", problem)
            self._emit(ComponentError("audio", problem))
        self._ready.set()
        try:
            while True:
                try:
                    command = self._commands.get(timeout=self._poll_s)
                except queue.Empty:
                    command = None
                if command is not None and command[0] == "stop":
                    self._shutdown(command[1])
                    return
                self._step(command)
                self._maybe_reopen()
        finally:
            self._output.close()

    def _maybe_reopen(self) -> None:
        """Silent for want of a device: try it again, between tracks only (no jump mid-song)."""
        if self._current is None and self._output.reopen():
            log.warning("audio device available again: playing with sound")
            self._emit(Recovered("audio", "audio device open"))

    def _step(self, command: tuple[Any, ...] | None) -> None:
        try:
            if command is not None:
                getattr(self, f"_do_{command[0]}")(*command[1:])
            self._poll()
        except Exception as exc:  # one bad command or track must never end playback for good
            log.exception("player error")
            track = self._current
            self._drop_current()
            if track is not None:
                self._skip(track, f"player error: {exc}")

    def _do_play(self, track: Track, fade_in_ms: int, crossfade_ms: int) -> None:
        if self._state == "switching":
            self._next = (track, fade_in_ms)  # a newer choice replaces the queued one
        elif self._state in ("playing", "fading") and crossfade_ms > 0:
            if self._state == "playing":
                self._backend_().fadeout(crossfade_ms)
            self._state, self._next, self._ramp = "switching", (track, fade_in_ms), None
        else:
            self._end_current("replaced")
            self._start(track, fade_in_ms)

    def _do_fade_out(self, ms: int) -> None:
        if self._current is None:
            return
        if self._state in ("paused", "pausing") or ms <= 0:
            self._end_current("faded")
            return
        if self._state == "playing":
            self._backend_().fadeout(ms)
        self._state, self._next = "fading", None  # switching: its fade-out is already running

    def _do_pause(self, fade_ms: int) -> None:
        if self._state == "switching":
            self._finish_switch()  # the incoming track is the one to pause
        if self._state != "playing":
            return
        if fade_ms <= 0:
            self._backend_().pause()
            self._state = "paused"
        else:
            self._ramp = (time.monotonic(), fade_ms / 1000.0, self._gain, 0.0)
            self._state = "pausing"

    def _do_resume(self, fade_ms: int) -> None:
        if self._state not in ("paused", "pausing"):
            return
        if self._state == "paused":
            self._backend_().unpause()
        self._ramp = (time.monotonic(), max(fade_ms, 1) / 1000.0, self._gain, 1.0)
        self._state, self._progress_at = "playing", time.monotonic()  # a pause is no stall

    def _do_skip(self) -> None:
        track = self._next[0] if self._next else self._current
        self._end_current("replaced" if self._next else None)
        if track is not None:
            self._skip(track, "user")

    def _do_volume(self, volume: float) -> None:
        self._volume = volume
        if self._current is not None:
            self._apply_volume()

    def _poll(self) -> None:
        if self._ramp is not None:
            self._advance_ramp()
        if self._current is None or self._state == "paused":
            return
        backend = self._backend_()
        if backend.busy():
            self._track_progress(backend)
            return
        if self._state == "switching":
            self._finish_switch()
        elif self._state == "fading":
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
        if position_s > self._position_s or self._state != "playing" or not backend.audio:
            self._position_s = max(self._position_s, position_s)
            self._progress_at = now
        elif now - self._progress_at > self._stall_s:
            self._lose_device(f"the audio device took no sound for {self._stall_s:g} s")

    def _lose_device(self, why: str) -> None:
        track = self._current
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
            if self._state == "pausing":
                self._backend_().pause()
                self._state = "paused"

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
            self._apply_volume()
            backend.play(fade_in_ms)
        except Exception as exc:  # pygame.error for corrupt or unsupported files
            self._skip(track, f"cannot play: {exc}")
            return
        self._current, self._state, self._position_s = track, "playing", 0.0
        self._progress_at = time.monotonic()
        self._emit(TrackStarted(**self._track_fields(track), fade_in_ms=fade_in_ms))

    def _end_current(self, reason: str | None) -> None:
        """Halt the current track; report it ended with `reason` (None: report nothing)."""
        track, played_s = self._current, self._position_s
        self._drop_current()
        if track is not None and reason is not None:
            self._emit(
                TrackEnded(**self._track_fields(track), reason=reason, played_s=round(played_s, 3))
            )

    def _drop_current(self) -> None:
        if self._current is not None:
            with contextlib.suppress(Exception):
                self._backend_().halt()
        self._current, self._next, self._ramp, self._state = None, None, None, "stopped"

    def _shutdown(self, fade_ms: int) -> None:
        if self._current is not None and fade_ms > 0 and self._state in ("playing", "switching"):
            backend = self._backend_()
            backend.fadeout(fade_ms)
            deadline = time.monotonic() + fade_ms / 1000.0 + 0.5
            while backend.busy() and time.monotonic() < deadline:
                time.sleep(self._poll_s)
        self._end_current("stopped")

    def _skip(self, track: Track, reason: str) -> None:
        if reason != "user":
            log.warning("skipping %s: %s", track.path, reason)
        self._emit(TrackSkipped(**self._track_fields(track), reason=reason))

    def _apply_volume(self) -> None:
        self._backend_().set_volume(self._volume * self._gain)

    def _backend_(self) -> Backend:
        return self._output.backend

    def _track_fields(self, track: Track) -> _TrackFields:
        return {
            "path": str(track.path),
            "category": track.category,
            "title": track.title,
            "artist": track.artist,
            "duration_s": track.duration_s,
            "audio": self.audio,
        }

    def _emit(self, event: PlayerEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # the consumer's bug must not stop the music
            if not self._failed_callback:
                self._failed_callback = True
                log.exception("player event callback failed (further failures are silent)")


def make_player(
    volume: float, on_event: EventCallback | None = None, *, no_audio: bool = False
) -> PygamePlayer:
    """The daemon's player: make_player(config.music.volume, callback, no_audio=args.no_audio)."""
    return PygamePlayer(on_event, volume=volume, audio=not no_audio)


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
