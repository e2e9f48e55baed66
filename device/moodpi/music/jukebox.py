"""The daemon's music stage, decided once at start: the `Jukebox` where a library is configured
(`music.root` or `music.playlists`), else `NoMusic`, which says so once and stays silent.

The jukebox drives the director from the main loop and the player on its own thread; the player
reports track events through a bounded queue that the main loop drains (`poll`), so the director
is only ever touched from one thread and every event gets its `t` on the frame clock. The
library is kept current by its own thread (moodpi.music.library.watcher).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from typing import Any, Protocol

from moodpi.config import Config, MusicConfig
from moodpi.events import EventHub, PlayerEvent
from moodpi.music.actions import apply
from moodpi.music.director import MusicDirector
from moodpi.music.library.library import library_from_config
from moodpi.music.library.watcher import LibraryWatcher
from moodpi.music.player import make_player
from moodpi.music.track import Levelling
from moodpi.state import MusicState, NowPlaying
from moodpi.types import POLICIES, Emotion, MoodChange, PresenceChange

log = logging.getLogger(__name__)

STOP_FADE_MS = 1500  # a shutdown fade must fit systemd's stop timeout and our 5 s promise


class MusicStage(Protocol):
    """What the main loop asks of the music, with or without a library."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def poll(self) -> None: ...
    def on_mood(self, change: MoodChange) -> None: ...
    def on_presence(self, change: PresenceChange) -> None: ...
    def tick(self, now: float, pending: Emotion | None = None) -> None: ...
    def command(self, name: str, value: Any) -> None: ...
    def state(self) -> MusicState: ...


def music_stage(
    config: Config,
    hub: EventHub,
    *,
    audio: bool,
    clock: Callable[[], float],
    stop_event: threading.Event | None = None,
) -> MusicStage:
    """The jukebox where a library is configured, else the silent stage."""
    if not (config.music.root or config.music.playlists):
        return NoMusic(config.music)
    audio = audio and config.audio.output != "none"  # a box without a speaker opens no card
    return Jukebox(config, hub, audio=audio, clock=clock, stop_event=stop_event)


class NoMusic:
    """No music library: the stage plays nothing, ignores commands, and reports the player off."""

    def __init__(self, config: MusicConfig) -> None:
        self._policy = config.policy

    def start(self) -> None:
        log.info("no music library configured (music.root): running without playback")

    def stop(self) -> None:
        pass

    def poll(self) -> None:
        pass

    def on_mood(self, change: MoodChange) -> None:
        pass

    def on_presence(self, change: PresenceChange) -> None:
        pass

    def tick(self, now: float, pending: Emotion | None = None) -> None:
        pass

    def command(self, name: str, value: Any) -> None:
        log.info("command %s ignored: no music library", name)

    def state(self) -> MusicState:
        return MusicState(
            policy=self._policy, now_playing=None, volume=None, player="off", audio=None
        )


class Jukebox:
    """The library, the director (main loop) and the player (its thread), built without I/O."""

    def __init__(
        self,
        config: Config,
        hub: EventHub,
        *,
        audio: bool,
        clock: Callable[[], float],
        stop_event: threading.Event | None = None,
    ) -> None:
        self._config = config.music
        self._hub = hub
        self._audio = audio
        self._clock = clock
        self._events: queue.Queue[PlayerEvent] = queue.Queue(maxsize=256)
        self._volume = config.music.volume
        self.library = library_from_config(config)
        self.watcher = LibraryWatcher(self.library, config.music, stop_event, self._on_player_event)
        self.director = MusicDirector(config.music, self.library, rng=random.Random())
        levelling = Levelling(config.music.loudness_target_lufs, config.music.level_loudness)
        self.player = make_player(
            config.music.volume, self._on_player_event, no_audio=not audio, levelling=levelling
        )

    def start(self) -> None:
        self.watcher.start()  # the cached library at once; on a first run, the first scan
        self.player.start()

    def stop(self) -> None:
        self.player.stop(min(self._config.fade_ms, STOP_FADE_MS))
        self.watcher.stop()
        self.poll()  # the last track_ended events

    def _on_player_event(self, event: PlayerEvent) -> None:
        """Player (and library) thread: hand over, never block it."""
        try:
            self._events.put_nowait(event)
        except queue.Full:
            log.warning("player event queue full, dropping %s", event.TYPE)

    # -- main-loop side ---------------------------------------------------------------------

    def poll(self) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            now = self._clock()
            self._hub.emit(event, now)
            apply(self.player, self.director.on_player_event(event, now))

    def on_mood(self, change: MoodChange) -> None:
        apply(self.player, self.director.on_mood(change, change.t))

    def on_presence(self, change: PresenceChange) -> None:
        apply(self.player, self.director.on_presence(change.present, change.t))

    def tick(self, now: float, pending: Emotion | None = None) -> None:
        """Time passes; `pending`: the mood the tracker is about to publish (the director's
        grace period), None when nothing is about to change."""
        apply(self.player, self.director.tick(now, pending))

    def command(self, name: str, value: Any) -> None:
        """Run-time control (MQTT): policy, volume (0-100), pause, resume, skip."""
        if name == "policy" and value in POLICIES:
            apply(self.player, self.director.set_policy(value))
        elif name == "volume":
            self._volume = max(0.0, min(1.0, float(value) / 100.0))
            self.player.set_volume(self._volume)
        elif name == "pause":
            self.player.pause(self._config.fade_ms)
        elif name == "resume":
            self.player.resume(self._config.fade_ms)
        elif name == "skip":
            self.player.skip()
        else:
            log.warning("unknown music command %s", name)

    def state(self) -> MusicState:
        track = self.player.now_playing
        playing = NowPlaying(track.title, track.category, str(track.path)) if track else None
        return MusicState(
            policy=self.director.policy,
            now_playing=playing,
            volume=round(self._volume * 100),
            player=self.player.state,
            # False: no sound device (retried); None: sound switched off (--no-audio)
            audio=self.player.audio if self._audio else None,
            library=self.watcher.state,
        )
