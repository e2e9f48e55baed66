"""The camera as the daemon holds it: opened exactly while it is wanted, released (not just
ignored) otherwise, the camera light following the device, bad frames counted across opens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moodpi.config import CameraConfig
from moodpi.perception.capture import CaptureThread
from moodpi.perception.sources import FrameSource


class Camera:
    """The capture thread of the camera source, while one is open (`capture`, else None)."""

    def __init__(
        self,
        config: CameraConfig,
        source_factory: Callable[[], FrameSource],
        stop_event: threading.Event,
        *,
        on_open: Callable[[], None],
        on_close: Callable[[], None],
    ) -> None:
        self.config = config
        self._source_factory = source_factory
        self._stop_event = stop_event
        self._on_open, self._on_close = on_open, on_close
        self.capture: CaptureThread | None = None
        self._frames_bad = 0  # of earlier opens: a replay's bad frames still count at the end

    def sync(self, wanted: bool) -> None:
        if wanted and self.capture is None:
            self._open()
        elif not wanted and self.capture is not None:
            self._close()

    def _open(self) -> None:
        source = self._source_factory()
        lossless = source.is_replay and not self.config.realtime
        # A gap of a few frame periods is normal at low fps; only longer silences are failures.
        frame_timeout_s = max(self.config.timeout_s, 3.0 / self.config.fps)
        self.capture = CaptureThread(
            source,
            lossless=lossless,
            stop_event=self._stop_event,
            frame_timeout_s=frame_timeout_s,
            on_open=self._on_open,  # the LED follows the device
            on_close=self._on_close,
        )
        self.capture.start()

    def _close(self) -> None:
        assert self.capture is not None
        self.capture.stop()
        self._frames_bad += int(self.capture.stats().get("frames_bad", 0))
        self.capture = None

    def stats(self) -> dict[str, Any]:
        """The capture's counters, bad frames counted over every open."""
        stats = dict(self.capture.stats()) if self.capture is not None else {}
        stats["frames_bad"] = self._frames_bad + int(stats.get("frames_bad", 0))
        return stats

    def lost_for_longer_than(self, deadline_s: float) -> bool:
        return self.capture is not None and self.capture.failing_for_s() > deadline_s
