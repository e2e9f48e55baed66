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

Each track plays at `volume` times its loudness levelling (moodpi.music.track: attenuation
towards `music.loudness_target_lufs`), times the fade ramps. One music stream means no true
crossfade: `play(crossfade_ms=...)` fades the current track out,
then fades the new one in. Pause and resume with a fade ramp the volume, so the track keeps its
position.

The player thread's state machine is moodpi.music.playback; the backends (the mixer, and the
silent one) and the SDL environment are in moodpi.music.audio.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from moodpi.music.audio import AudioOutput
from moodpi.music.playback import EventCallback, Playback
from moodpi.music.track import OFF, Levelling, Track

log = logging.getLogger(__name__)


class _Command(NamedTuple):
    """A request for the player thread: a name for the log, and the bound step that does it."""

    name: str
    run: Callable[[], None]


class PygamePlayer:
    """The real player; one per process (pygame.mixer is process-wide).

    States (moodpi.music.playback): stopped, playing, pausing, paused, fading, switching.
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
        levelling: Levelling = OFF,
    ) -> None:
        mixer_args = (frequency_hz, size_bits, channels, buffer_frames)
        self._output = AudioOutput(mixer_args, want_audio=audio, reopen_s=reopen_s)
        # Owned by the player thread from start() on; read elsewhere only as plain attributes.
        self._engine = Playback(
            self._output, on_event, volume=volume, poll_s=poll_s, stall_s=stall_s,
            levelling=levelling,
        )  # fmt: skip
        self._poll_s = poll_s
        self._commands: queue.Queue[_Command] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.dropped_commands = 0

    # -- the interface: every method only queues a command ---------------------------------------

    @property
    def now_playing(self) -> Track | None:
        return self._engine.current

    @property
    def state(self) -> str:
        return self._engine.state

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
        self._send(_Command("stop", partial(self._engine.shutdown, fade_ms)), urgent=True)
        thread.join(timeout=fade_ms / 1000.0 + 3.0)
        if thread.is_alive():
            log.error("player thread did not stop in time")
        self._thread = None

    def play(self, track: Track, fade_in_ms: int = 0, crossfade_ms: int = 0) -> None:
        self._send(_Command("play", partial(self._engine.play, track, fade_in_ms, crossfade_ms)))

    def fade_out(self, ms: int) -> None:
        self._send(_Command("fade_out", partial(self._engine.fade_out, ms)))

    def pause(self, fade_ms: int = 0) -> None:
        self._send(_Command("pause", partial(self._engine.pause, fade_ms)))

    def resume(self, fade_ms: int = 0) -> None:
        self._send(_Command("resume", partial(self._engine.resume, fade_ms)))

    def skip(self) -> None:
        self._send(_Command("skip", self._engine.skip))

    def set_volume(self, volume: float) -> None:
        """0.0 .. 1.0 (clamped); anything not a number is a ValueError here, in the caller."""
        value = float(volume)
        if value != value:
            raise ValueError("volume is NaN")
        self._send(_Command("volume", partial(self._engine.set_volume, min(1.0, max(0.0, value)))))

    def _send(self, command: _Command, urgent: bool = False) -> None:
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
        dropped = self.dropped_commands
        log.warning("player queue full: dropped %s (%d so far)", command.name, dropped)

    # -- the player thread ------------------------------------------------------------------

    def _run(self) -> None:
        self._engine.open()
        self._ready.set()
        try:
            while True:
                try:
                    command = self._commands.get(timeout=self._poll_s)
                except queue.Empty:
                    command = None
                if command is not None and command.name == "stop":
                    command.run()
                    return
                self._step(command)
                self._engine.maybe_reopen()
        finally:
            self._engine.close()

    def _step(self, command: _Command | None) -> None:
        try:
            if command is not None:
                command.run()
            self._engine.poll()
        except Exception as exc:  # one bad command or track must never end playback for good
            self._engine.fail(exc)


def make_player(
    volume: float,
    on_event: EventCallback | None = None,
    *,
    no_audio: bool = False,
    levelling: Levelling = OFF,
) -> PygamePlayer:
    """The daemon's player: make_player(config.music.volume, callback, no_audio=args.no_audio,
    levelling=Levelling(config.music.loudness_target_lufs, config.music.level_loudness))."""
    return PygamePlayer(on_event, volume=volume, audio=not no_audio, levelling=levelling)
