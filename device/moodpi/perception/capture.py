"""The camera's own thread: reads a FrameSource and hands frames over without queuing.

A live camera hands over only its newest frame (drops counted); a replay run as fast as possible
hands over every frame, so results on a replay are reproducible. A failing live camera is retried
with capped backoff; the daemon decides when it has been gone too long.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Self

from moodpi.perception.sources.base import FrameSource, SourceEnded, quietly, valid_image
from moodpi.types import Frame

log = logging.getLogger(__name__)


class CaptureThread:
    """Reads `source` on its own thread and hands frames to one consumer through a one-slot buffer.

    `lossless=False` (live cameras, realtime replays): the slot keeps only the newest frame and
    every frame overwritten before it was taken counts in `frames_dropped`. `lossless=True` (a
    replay run as fast as possible): the reader waits until the consumer took the previous frame,
    so every frame is delivered in order and nothing queues.

    A live source that raises, stalls past `frame_timeout_s` or fails to open is closed and
    reopened with capped exponential backoff; the first failure of a spell is logged at warning,
    repeats at debug. `failing_since` (on `clock`) and `last_error` let the daemon decide when the
    camera has been gone too long; `reconnects` counts successful reopenings. A replay is not
    retried (a file does not heal): an error ends it with `fatal_error` set. Frames that are not
    grey (H, W) uint8 are skipped and counted in `frames_bad`.

    `on_open` is called after each successful `source.start()`, `on_close` after each
    `source.stop()` that follows one (even when stop fails), on whichever thread opened or
    closed it: whoever must know whether the camera is open (the camera light) is told, and the
    source stays the source.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        lossless: bool,
        stop_event: threading.Event,
        frame_timeout_s: float = 2.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        poll_s: float = 0.1,
        fps_window_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        on_open: Callable[[], None] = lambda: None,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self.source = source
        self.lossless = lossless
        self._stop_event = stop_event
        self._frame_timeout_s = frame_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._poll_s = min(poll_s, frame_timeout_s)
        self._fps_window_s = fps_window_s
        self._clock = clock
        self._sleep = sleep or self._pause
        self._on_open = on_open
        self._on_close = on_close
        self._halt = threading.Event()
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._source_ended = False
        self._thread: threading.Thread | None = None
        self._open = False
        self._opened_before = False
        self._backoff_s = backoff_initial_s
        self._last_frame_at = 0.0
        self._frame_times: collections.deque[float] = collections.deque()
        self.frames_read = 0
        self.frames_dropped = 0
        self.frames_bad = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self.failing_since: float | None = None
        self.fatal_error: str | None = None

    # -- consumer side ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread. A replay is opened here, so a bad path raises CameraError at once;
        a live camera is opened on the thread, with retries."""
        if self._thread is not None:
            raise RuntimeError("capture thread already started")
        if self.source.is_replay:
            self.source.start()
            self._mark_open()
        self._thread = threading.Thread(target=self._run, name="moodpi-camera", daemon=True)
        self._thread.start()

    def get(self, timeout_s: float) -> Frame | None:
        """The next frame, or None when none came within timeout_s (see `ended`)."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._slot is not None or self._source_ended or self._stopping(),
                timeout_s,
            )
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    @property
    def ended(self) -> bool:
        """The source ended (or failed for good) and its last frame has been taken."""
        return self._source_ended and self._slot is None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def failing_for_s(self) -> float:
        """Seconds the source has been failing without a good frame; 0 when healthy."""
        since = self.failing_since
        return 0.0 if since is None else max(0.0, self._clock() - since)

    def stats(self) -> dict[str, Any]:
        return {
            "frames_read": self.frames_read,
            "frames_dropped": self.frames_dropped,
            "frames_bad": self.frames_bad + self.source.frames_bad,
            "reconnects": self.reconnects,
            "fps": round(self._fps(), 2),
            "failing_s": round(self.failing_for_s(), 1),
            "last_error": self.last_error,
            "ended": self.ended,
        }

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop and join the thread (it closes the source itself)."""
        self._halt.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("camera thread still busy %.1f s after stop", timeout_s)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping():
                if not self._open and not self._try_open():
                    continue
                if not self._step():
                    break
        except Exception as exc:  # a bug here must not leave the daemon waiting for frames
            log.exception("camera thread failed")
            self.fatal_error = self.last_error = f"{type(exc).__name__}: {exc}"
            self._end()
        finally:
            self._close()

    def _step(self) -> bool:
        """Read one frame; False when the source is finished."""
        try:
            frame = self.source.read(self._poll_s)
        except SourceEnded:
            self._end()
            return False
        except Exception as exc:
            if self.source.is_replay:
                log.error("replay %s failed: %s", self.source.describe(), exc)
                self.fatal_error = self.last_error = f"{type(exc).__name__}: {exc}"
                self._end()
                return False
            self._fail(exc)
            return True
        if frame is None or not (isinstance(frame, Frame) and valid_image(frame.image)):
            if frame is not None:
                self.frames_bad += 1
            self._check_stalled()
            return True
        self._recovered()
        self._deliver(frame)
        return True

    def _try_open(self) -> bool:
        try:
            self.source.start()
        except Exception as exc:
            self._fail(exc)
            return False
        if self._opened_before:
            self.reconnects += 1
            log.info("camera %s reopened", self.source.describe())
        self._mark_open()
        return True

    def _mark_open(self) -> None:
        self._open = self._opened_before = True
        self._last_frame_at = self._clock()
        self._on_open()

    def _check_stalled(self) -> None:
        silent_s = self._clock() - self._last_frame_at
        if not self.source.is_replay and silent_s > self._frame_timeout_s:
            self._fail(TimeoutError(f"no frame for {silent_s:.1f} s"))

    def _fail(self, exc: BaseException) -> None:
        """Record a failure, close the source, wait the backoff; the loop then reopens it."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.failing_since is None:
            self.failing_since = self._clock()
            log.warning("camera %s failing: %s; retrying with backoff", self.source.describe(), exc)
        else:
            log.debug("camera still failing: %s (next try in %.1f s)", exc, self._backoff_s)
        self._close()
        self._sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, self._backoff_max_s)

    def _recovered(self) -> None:
        now = self._clock()
        if self.failing_since is not None:
            log.info(
                "camera %s recovered after %.1f s", self.source.describe(), now - self.failing_since
            )
            self.failing_since = None
        self._backoff_s = self._backoff_initial_s
        self._last_frame_at = now

    def _deliver(self, frame: Frame) -> None:
        self.frames_read += 1
        self._count_fps()
        with self._cond:
            if self.lossless:
                while self._slot is not None and not self._stopping():
                    self._cond.wait(0.05)  # short: the daemon's stop event does not notify us
                if self._stopping():
                    return
            elif self._slot is not None:
                self.frames_dropped += 1
            self._slot = frame
            self._cond.notify_all()

    def _end(self) -> None:
        with self._cond:
            self._source_ended = True
            self._cond.notify_all()

    def _close(self) -> None:
        if self._open:
            self._open = False
            quietly(self.source.stop, f"closing {self.source.describe()}")
            self._on_close()

    def _stopping(self) -> bool:
        return self._halt.is_set() or self._stop_event.is_set()

    def _pause(self, seconds: float) -> None:
        """Sleep that ends early when either stop flag is set."""
        deadline = time.monotonic() + seconds
        while not self._stopping():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._halt.wait(min(remaining, 0.05))

    def _count_fps(self) -> None:
        now = self._clock()
        self._frame_times.append(now)
        while self._frame_times and now - self._frame_times[0] > self._fps_window_s:
            self._frame_times.popleft()

    def _fps(self) -> float:
        times = list(self._frame_times)
        if len(times) < 2 or self._clock() - times[-1] > self._fps_window_s:
            return 0.0
        span = times[-1] - times[0]
        return (len(times) - 1) / span if span > 0 else 0.0
