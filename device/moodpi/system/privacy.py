"""Privacy you can see: whether the camera is open (for Home Assistant, the LED and `moodpi
status`), and the quiet hours during which it stays released.

The camera light's `opened` and `closed` are the capture thread's open and close callbacks
(app.py wires them), so "camera in use" is true exactly from a successful `start()` of the frame
source to the end of its `stop()`, on whichever thread; the LED follows it. Quiet hours are a
pure function of the local time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from moodpi.config import PrivacyConfig
from moodpi.state import QuietHours
from moodpi.system.led import Led, make_led

log = logging.getLogger(__name__)

MINUTES_PER_DAY = 24 * 60


def parse_span(span: str) -> tuple[int, int]:
    """'22:00-07:00' → (1320, 420): start and end in minutes after midnight."""
    start, _, end = span.partition("-")
    try:
        return _minutes(start), _minutes(end)
    except ValueError:
        raise ValueError(f"quiet hours {span!r}: expected HH:MM-HH:MM") from None


def _minutes(hh_mm: str) -> int:
    hours, _, minutes = hh_mm.strip().partition(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(hh_mm)
    return h * 60 + m


def in_quiet_hours(spans: Sequence[str], now: datetime) -> bool:
    """Whether local time `now` falls in one of the spans: start included, end excluded; a span
    whose end is before its start runs past midnight; equal ends mean the whole day."""
    minute = now.hour * 60 + now.minute
    for span in spans:
        start, end = parse_span(span)
        if start == end:
            return True
        if start < end and start <= minute < end:
            return True
        if start > end and (minute >= start or minute < end):
            return True
    return False


class CameraLight:
    """Whether the camera is open, shown on the LED. Set from the camera thread, read anywhere."""

    def __init__(self, led: Led) -> None:
        self.led = led
        self._lock = threading.Lock()
        self._in_use = False

    @property
    def in_use(self) -> bool:
        return self._in_use

    def start(self) -> None:
        with self._lock:
            self.led.open()
            self.led.set(self._in_use)

    def stop(self) -> None:
        with self._lock:
            self.led.close()

    def opened(self) -> None:
        self._show(True)

    def closed(self) -> None:
        self._show(False)

    def _show(self, in_use: bool) -> None:
        with self._lock:
            if in_use != self._in_use:
                log.info("camera %s", "in use" if in_use else "released")
            self._in_use = in_use
            self.led.set(in_use)


class Privacy:
    """The camera light and the quiet hours of one daemon; `clock` gives local time (tests)."""

    def __init__(
        self,
        config: PrivacyConfig,
        *,
        led: Led | None = None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        for span in config.quiet_hours:
            parse_span(span)  # the schema checked the form; this keeps the two in step
        self.schedule = tuple(config.quiet_hours)
        self.quiet_enabled = config.quiet_hours_enabled
        self.clock = clock
        self.light = CameraLight(led if led is not None else make_led(config))

    def start(self) -> None:
        self.light.start()

    def stop(self) -> None:
        self.light.stop()

    @property
    def camera_in_use(self) -> bool:
        return self.light.in_use

    def quiet_now(self) -> bool:
        """Quiet hours hold the camera released right now."""
        return (
            self.quiet_enabled
            and bool(self.schedule)
            and in_quiet_hours(self.schedule, self.clock())
        )

    def quiet_state(self) -> QuietHours:
        return QuietHours(self.schedule, self.quiet_enabled, self.quiet_now())

    def led_state(self) -> str:
        """The LED's name, and why it is disabled when it is ('gpio:17 (disabled: ...)')."""
        led = self.light.led
        return led.name if led.problem is None else f"{led.name} (disabled: {led.problem})"
