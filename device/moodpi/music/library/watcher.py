"""The library thread: the cached library served at once, then rescanned and analysed behind it.

The thread rescans every `music.rescan_interval_s` (a stat per file; only new or changed files
are opened) and, with `music.analysis` on, starts the analyser for files not yet placed:
`python -m moodpi.music.analysis.analyser`, a process of its own at nice 10, so the daemon never
holds its libraries (scipy, soundfile) or its memory. While it works the thread reloads the
placements from the cache every ANALYSIS_RELOAD_S, so new tracks join the policies as they are
placed; a stop ends it with SIGTERM (it finishes the track in hand; the next run resumes).

After each scan it judges the library (moodpi.music.library.health): a music folder that is
missing or holds nothing playable is an `error` event (component "music") and the state's
`library.problem` (Home Assistant's "Music library" problem sensor); the scan that finds music
again is a `recovered` event and clears it. The analyser waits while the folder is gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from moodpi.config import MusicConfig
from moodpi.events import ComponentError, Recovered
from moodpi.music.library.db import coverage
from moodpi.music.library.health import library_problem
from moodpi.music.library.library import Library
from moodpi.state import LibraryState

log = logging.getLogger(__name__)

ANALYSER = "moodpi.music.analysis.analyser"  # run by name in a child, never imported here
FIRST_WAIT_S = 10.0  # first run: wait this long at most for something to play
ANALYSIS_RELOAD_S = 10.0
FIRST_POLL_S = 0.25


class LibraryWatcher:
    """Keeps `library` current from its own thread; `state` is what the snapshot shows of it."""

    def __init__(
        self,
        library: Library,
        config: MusicConfig,
        stop_event: threading.Event | None = None,
        on_event: Callable[[ComponentError | Recovered], None] | None = None,
    ) -> None:
        self.library = library
        self._on_event = on_event or (lambda _event: None)  # called on the library thread
        self.problem: str | None = None  # why there is nothing to play; None: fine
        self._rescan_interval_s = config.rescan_interval_s
        self._analysis = config.analysis
        # The daemon's stop event: a SIGTERM during a long first scan ends the scan (and the wait
        # for it in start()) at once instead of after up to 10 s.
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._thread: threading.Thread | None = None
        self._analyser: subprocess.Popen[bytes] | None = None
        self.state: LibraryState | None = None  # None: no cache, or not read yet
        self._first_ready = threading.Event()  # the first scan (and analysis) has landed

    def start(self) -> None:
        """Serve the cached library at once and rescan in the background (a big library is slow)."""
        try:
            self.library.load()
        except Exception as exc:
            log.warning("music cache unreadable, rescanning: %s", exc)
        self._thread = threading.Thread(target=self._loop, name="library-scan", daemon=True)
        self._thread.start()
        if not (self.library.categories() or self.library.placed_tracks()):
            # First run: wait for something to play, but not through a SIGTERM (the stop event).
            deadline = time.monotonic() + FIRST_WAIT_S
            while not (self._first_ready.is_set() or self._stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._first_ready.wait(timeout=min(left, 0.1))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._stop_analyser()

    # -- the library thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._scan()
            if self.library.categories():
                self._first_ready.set()  # folders or playlists: playable before any analysis
            self._start_analyser()
            self._follow_analysis(time.monotonic() + self._rescan_interval_s)

    def _scan(self) -> None:
        try:
            report = self.library.scan(stop_event=self._stop)
            if report.read or report.removed:
                log.info("music library: %d tracks (%d new or changed), %d unreadable",
                         report.tracks, report.read, report.unreadable)  # fmt: skip
            self._judge(report.tracks)
        except Exception:
            log.exception("music library scan failed")
        self._update_state()

    def _judge(self, tracks: int) -> None:
        """Say a new problem once, and its end once."""
        problem = library_problem(self.library, tracks)
        if problem == self.problem:
            return
        if problem is not None:
            log.error("%s", problem)
            self._on_event(ComponentError("music", problem))
        else:
            log.info("music library back: %d tracks to play", tracks)
            self._on_event(Recovered("music", f"{tracks} tracks to play"))
        self.problem = problem

    def _start_analyser(self) -> None:
        state, cache = self.state, self.library.cache_path
        if not self._analysis or cache is None or state is None or self.library.folder_gone():
            self._first_ready.set()
            return
        if state.analysed + state.failed >= state.tracks or self._analyser_running():
            self._first_ready.set()
            return
        command = [sys.executable, "-m", ANALYSER, "--cache", str(cache)]
        try:
            self._analyser = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=_child_env())
            log.info("analysing %d new tracks in the background (pid %d)",
                     state.tracks - state.analysed - state.failed, self._analyser.pid)  # fmt: skip
        except OSError as exc:
            log.warning("cannot start the music analyser: %s", exc)
            self._first_ready.set()

    def _follow_analysis(self, until: float) -> None:
        """Wait for the next rescan; meanwhile take in what the analyser has placed."""
        while not self._stop.is_set():
            running = self._analyser_running()
            left = until - time.monotonic()
            if left <= 0:
                return
            # Someone may be waiting in start() for the first placements: look often until then.
            period = ANALYSIS_RELOAD_S if self._first_ready.is_set() else FIRST_POLL_S
            if self._stop.wait(min(left, period) if running else left):
                return
            if running:
                self._reload()
                if not self._analyser_running():
                    self._first_ready.set()

    def _analyser_running(self) -> bool:
        return self._analyser is not None and self._analyser.poll() is None

    def _reload(self) -> None:
        try:
            self.library.load()
        except Exception:
            log.exception("cannot reload the music library's analysis")
        self._update_state()

    def _update_state(self) -> None:
        cache = self.library.cache_path
        found = coverage(cache) if cache is not None else None
        if found is not None:
            self.state = LibraryState(**asdict(found), problem=self.problem)
        else:  # no cache (yet): a problem still shows
            self.state = LibraryState(0, 0, 0, False, None, self.problem) if self.problem else None

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
