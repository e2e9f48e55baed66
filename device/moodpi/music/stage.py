"""The daemon's music stage: library, director and player, driven from the main loop.

The player runs its own thread and reports track events through a bounded queue; the main loop
drains it (`poll`), so the director is only ever touched from one thread and every event gets its
`t` on the frame clock. With no music library configured the stage stays silent and says so once.

The library thread rescans every `music.rescan_interval_s` (a stat per file; only new or changed
files are opened) and, with `music.analysis` on, starts the analyser for files not yet placed:
`python -m moodpi.music.analyser`, a process of its own at nice 10, so the daemon never holds
its libraries (scipy, soundfile) or its memory. While it works the thread reloads the placements
from the cache every ANALYSIS_RELOAD_S, so new tracks join the policies as they are placed; a
stop ends it with SIGTERM (it finishes the track in hand; the next run resumes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from moodpi.config import Config
from moodpi.events import EventHub, PlayerEvent
from moodpi.music.actions import apply
from moodpi.music.director import MusicDirector
from moodpi.music.library import Library, library_from_config
from moodpi.music.library_db import coverage
from moodpi.music.player import PygamePlayer, make_player
from moodpi.state import LibraryState, MusicState, NowPlaying
from moodpi.types import POLICIES, MoodChange, PresenceChange

log = logging.getLogger(__name__)

STOP_FADE_MS = 1500  # a shutdown fade must fit systemd's stop timeout and our 5 s promise
FIRST_WAIT_S = 10.0  # first run: wait this long at most for something to play
ANALYSIS_RELOAD_S = 10.0
FIRST_POLL_S = 0.25


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
        self._analyser: subprocess.Popen[bytes] | None = None
        self._library_state: LibraryState | None = None
        self._first_ready = threading.Event()  # the first scan (and analysis) has landed

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
        self._scan_thread = threading.Thread(
            target=self._library_loop, name="library-scan", daemon=True
        )
        self._scan_thread.start()
        if not (self.library.categories() or self.library.placed_tracks()):
            # First run: wait for something to play, but not through a SIGTERM (the stop event).
            deadline = time.monotonic() + FIRST_WAIT_S
            while not (self._first_ready.is_set() or self._scan_stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._first_ready.wait(timeout=min(left, 0.1))

    def _library_loop(self) -> None:
        interval_s = self._config.music.rescan_interval_s
        while not self._scan_stop.is_set():
            self._scan()
            if self.library is not None and self.library.categories():
                self._first_ready.set()  # folders or playlists: playable before any analysis
            self._start_analyser()
            self._follow_analysis(time.monotonic() + interval_s)

    def _scan(self) -> None:
        assert self.library is not None
        try:
            report = self.library.scan(stop_event=self._scan_stop)
            if report.read or report.removed:
                log.info("music library: %d tracks (%d new or changed), %d unreadable",
                         report.tracks, report.read, report.unreadable)  # fmt: skip
        except Exception:
            log.exception("music library scan failed")
        self._update_library_state()

    def _start_analyser(self) -> None:
        state, cache = self._library_state, self.library.cache_path if self.library else None
        if not self._config.music.analysis or cache is None or state is None:
            self._first_ready.set()
            return
        if state.analysed + state.failed >= state.tracks or self._analyser_running():
            self._first_ready.set()
            return
        command = [sys.executable, "-m", "moodpi.music.analyser", "--cache", str(cache)]
        try:
            self._analyser = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=_child_env())
            log.info("analysing %d new tracks in the background (pid %d)",
                     state.tracks - state.analysed - state.failed, self._analyser.pid)  # fmt: skip
        except OSError as exc:
            log.warning("cannot start the music analyser: %s", exc)
            self._first_ready.set()

    def _follow_analysis(self, until: float) -> None:
        """Wait for the next rescan; meanwhile take in what the analyser has placed."""
        while not self._scan_stop.is_set():
            running = self._analyser_running()
            left = until - time.monotonic()
            if left <= 0:
                return
            # Someone may be waiting in start() for the first placements: look often until then.
            period = ANALYSIS_RELOAD_S if self._first_ready.is_set() else FIRST_POLL_S
            if self._scan_stop.wait(min(left, period) if running else left):
                return
            if running:
                self._reload()
                if not self._analyser_running():
                    self._first_ready.set()

    def _analyser_running(self) -> bool:
        return self._analyser is not None and self._analyser.poll() is None

    def _reload(self) -> None:
        assert self.library is not None
        try:
            self.library.load()
        except Exception:
            log.exception("cannot reload the music library's analysis")
        self._update_library_state()

    def _update_library_state(self) -> None:
        cache = self.library.cache_path if self.library else None
        found = coverage(cache) if cache is not None else None
        self._library_state = LibraryState(**asdict(found)) if found else None

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
            library=self._library_state,
        )

    def stop(self) -> None:
        self._scan_stop.set()
        if self.player is not None:
            self.player.stop(min(self._config.music.fade_ms, STOP_FADE_MS))
        if self._scan_thread is not None:
            self._scan_thread.join(timeout=2.0)
        self._stop_analyser()
        self.poll()  # the last track_ended events

    def _stop_analyser(self) -> None:
        child = self._analyser
        if child is None or child.poll() is not None:
            return
        child.terminate()  # it finishes the track in hand; the next run resumes
        try:
            child.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1.0)


def _child_env() -> dict[str, str]:
    """The analyser's environment: one math thread (it is niced and should stay one core)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
