"""The MQTT link's health: counters, the last connection problem, and warnings that a barrage of
bad messages or a flapping broker cannot flood journald with.

Counters are bumped on paho's network thread and the outbox worker and read by the main loop
(diagnostics, the status file), under one lock. Clocks are injected so tests need no sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

WARN_EVERY_S = 10.0  # at most one warning per kind per interval (a barrage must not flood journald)

STAT_KEYS = (
    "connects", "disconnects", "callback_errors", "worker_errors", "events_sent", "events_acked",
    "commands_accepted", "commands_rejected", "commands_rate_limited",
)  # fmt: skip


class LogThrottle:
    """Lets one log line per key through every `every_s`; counts the ones it held back."""

    def __init__(self, every_s: float, clock: Callable[[], float]) -> None:
        self._every_s = every_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None: stay quiet; else the number of lines held back since the last one."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


class LinkHealth:
    """The link's counters and its last error; lines go to `logger` (the link's own)."""

    def __init__(
        self, logger: logging.Logger, clock: Callable[[], float], every_s: float = WARN_EVERY_S
    ) -> None:
        self._log = logger
        self.throttle = LogThrottle(every_s, clock)
        self._lock = threading.Lock()
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self.last_error: str | None = None
        self.auth_failed = False

    def count(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def set_error(self, message: str, level: int = logging.WARNING) -> None:
        """Log a connection problem once when it appears, not at every retry, and the same one
        at most every `every_s` however often a flapping broker or a stolen client id brings
        it back."""
        if message != self.last_error and self.throttle.allow(f"error {message}") is not None:
            self._log.log(level, "MQTT: %s", message)
        self.last_error = message

    def warn(self, key: str, fmt: str, *args: Any) -> None:
        held = self.throttle.allow(key)
        if held is None:
            return
        if held:
            fmt += " (%d similar held back)"
            args = (*args, held)
        self._log.warning(fmt, *args)
