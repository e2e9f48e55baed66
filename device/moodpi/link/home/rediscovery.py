"""Re-publishing discovery when Home Assistant comes online, safe against a flood of `online`.

Anyone on the LAN may publish `homeassistant/status online` a thousand times a second. Each
message used to restart the random delay (so rediscovery never came while the flood lasted) and
log a line. Here the messages are coalesced: the first one arms a timer, later ones while it is
armed are only counted, a rediscovery is never more frequent than `min_interval_s`, and the log
says it once per LOG_EVERY_S with the number held back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from moodpi.link.health import LogThrottle

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 10.0  # at most one rediscovery per this, however many `online` arrive
LOG_EVERY_S = 60.0


class Rediscovery:
    """`request()` from paho's thread; `publish` runs once on a timer thread per burst."""

    def __init__(
        self,
        publish: Callable[[], None],
        *,
        delay_s: tuple[float, float] = (0.5, 3.0),
        min_interval_s: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._delay_s = delay_s
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._throttle = LogThrottle(LOG_EVERY_S, clock)
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last_run: float | None = None
        self._closed = False
        self.requests = 0  # every `online` seen
        self._logged_upto = 0  # requests when the last line was logged
        self.runs = 0  # rediscoveries done

    def request(self) -> None:
        with self._lock:
            self.requests += 1
            if self._closed or self._timer is not None:
                return  # one is already on its way: this message changes nothing
            delay_s = random.uniform(*self._delay_s)  # spreads the load of many devices
            if self._last_run is not None:
                delay_s = max(delay_s, self._last_run + self._min_interval_s - self._clock())
            self._timer = threading.Timer(delay_s, self._run)
            self._timer.daemon = True
            self._timer.start()
            if self._throttle.allow("online") is None:
                return
            coalesced, self._logged_upto = self.requests - self._logged_upto - 1, self.requests
        extra = f" ({coalesced} more `online` coalesced before)" if coalesced else ""
        log.info("Home Assistant came online: re-publishing discovery in %.1f s%s", delay_s, extra)

    def _run(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed:
                return
            self._last_run = self._clock()
            self.runs += 1
        try:
            self._publish()
        except Exception:
            log.exception("MQTT rediscovery failed")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
