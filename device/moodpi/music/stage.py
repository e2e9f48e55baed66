"""The daemon's music stage: library, director and player, driven from the main loop.

The player runs its own thread and reports track events through a bounded queue; the main loop
drains it (`poll`), so the director is only ever touched from one thread and every event gets its
`t` on the frame clock. With no music library configured the stage stays silent and says so once.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from typing import Any

from moodpi.config import Config
from moodpi.events import EventHub, PlayerEvent
from moodpi.music.actions import apply
from moodpi.music.director import MusicDirector
from moodpi.music.library import Library, library_from_config
from moodpi.music.player import PygamePlayer, make_player
from moodpi.snapshot import MusicState, NowPlaying
from moodpi.types import POLICIES, MoodChange, PresenceChange

log = logging.getLogger(__name__)

STOP_FADE_MS = 1500  # a shutdown fade must fit systemd's stop timeout and our 5 s promise


class Jukebox:
    def __init__(
        self,
        config: Config,
        hub: EventHub,
        *,
        audio: bool,
        clock: Callable[[], float],
        stop_event: threading.Event | None = None,
    ) -> None:
        self._config = config
        self._hub = hub
        self._audio = audio
        self._clock = clock
        self._events: queue.Queue[PlayerEvent] = queue.Queue(maxsize=256)
        # The daemon's stop event: a SIGTERM during a long first scan ends the scan (and the wait
        # for it in start()) at once instead of after up to 10 s.
        self._scan_stop = stop_event if stop_event is not None else threading.Event()
        self._scan_thread: threading.Thread | None = None
        self.library: Library | None = None
        self.director: MusicDirector | None = None
        self.player: PygamePlayer | None = None
        self._volume = config.music.volume

    @property
    def enabled(self) -> bool:
        return self.director is not None

    def start(self) -> None:
        music = self._config.music
        if not (music.root or music.playlists):
            log.info("no music library configured (music.root): running without playback")
            return
        self.library = library_from_config(self._config)
        self._load_library()
        self.director = MusicDirector(music, self.library, rng=random.Random())
        self.player = make_player(music.volume, self._on_player_event, no_audio=not self._audio)
        self.player.start()

    def _load_library(self) -> None:
        """Serve the cached library at once and rescan in the background (a big library is slow)."""
        assert self.library is not None
        try:
            self.library.load()
        except Exception as exc:
            log.warning("music cache unreadable, rescanning: %s", exc)
        self._scan_thread = threading.Thread(target=self._scan, name="library-scan", daemon=True)
        self._scan_thread.start()
        if not any(self.library.categories().values()):
            self._scan_thread.join(timeout=10.0)  # first run: wait a little for something to play

    def _scan(self) -> None:
        assert self.library is not None
        try:
            report = self.library.scan(stop_event=self._scan_stop)
            log.info("music library: %d tracks, %d unreadable", report.tracks, report.unreadable)
        except Exception:
            log.exception("music library scan failed")

    def _on_player_event(self, event: PlayerEvent) -> None:
        """Player thread: hand over, never block it."""
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
            if self.director is not None and self.player is not None:
                apply(self.player, self.director.on_player_event(event, now))

    def on_mood(self, change: MoodChange) -> None:
        if self.director is not None and self.player is not None:
            apply(self.player, self.director.on_mood(change, change.t))

    def on_presence(self, change: PresenceChange) -> None:
        if self.director is not None and self.player is not None:
            apply(self.player, self.director.on_presence(change.present, change.t))

    def tick(self, now: float) -> None:
        if self.director is not None and self.player is not None:
            apply(self.player, self.director.tick(now))

    def command(self, name: str, value: Any) -> None:
        """Run-time control (MQTT): policy, volume (0-100), pause, resume, skip."""
        if self.director is None or self.player is None:
            log.info("command %s ignored: no music library", name)
            return
        if name == "policy" and value in POLICIES:
            apply(self.player, self.director.set_policy(value))
        elif name == "volume":
            self._volume = max(0.0, min(1.0, float(value) / 100.0))
            self.player.set_volume(self._volume)
        elif name == "pause":
            self.player.pause(self._config.music.fade_ms)
        elif name == "resume":
            self.player.resume(self._config.music.fade_ms)
        elif name == "skip":
            self.player.skip()
        else:
            log.warning("unknown music command %s", name)

    def state(self) -> MusicState:
        if self.director is None or self.player is None:
            return MusicState(
                policy=self._config.music.policy, now_playing=None, volume=None, player="off",
                audio=None,
            )  # fmt: skip
        track = self.player.now_playing
        playing = NowPlaying(track.title, track.category, str(track.path)) if track else None
        return MusicState(
            policy=self.director.policy,
            now_playing=playing,
            volume=round(self._volume * 100),
            player=self.player.state,
            # False: no sound device (retried); None: sound switched off (--no-audio)
            audio=self.player.audio if self._audio else None,
        )

    def stop(self) -> None:
        self._scan_stop.set()
        if self.player is not None:
            self.player.stop(min(self._config.music.fade_ms, STOP_FADE_MS))
        if self._scan_thread is not None:
            self._scan_thread.join(timeout=2.0)
        self.poll()  # the last track_ended events
