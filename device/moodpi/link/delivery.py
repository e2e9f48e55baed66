"""Delivery of the outbox to the broker, in `seq` order, each event acknowledged only after PUBACK.

The link's worker thread, started and stopped with the link: it owns the outbox and the map of
events in flight. paho's thread only hands it the ids the broker confirmed (`confirmed`) and
wakes it. Unconfirmed events stay in paho's session queue across a reconnect and are re-sent
first; new events wait until those are through, so order holds. A connection that takes events
but confirms none for INFLIGHT_STALL_S is given the outbox again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from moodpi.link.health import LinkHealth
from moodpi.link.journal.outbox import Outbox

log = logging.getLogger(__name__)

EVENT_WINDOW = 16  # events in flight at once; below paho's default max_inflight of 20
INFLIGHT_STALL_S = 60.0  # connected, yet no PUBACK for this long: send the outbox again


class Delivery:
    def __init__(
        self,
        outbox: Outbox,
        *,
        send: Callable[[dict[str, Any]], Any],
        connected: Callable[[], bool],
        generation: Callable[[], int],
        health: LinkHealth,
        qos: int = 1,
    ) -> None:
        self._outbox = outbox
        self._send = send  # one event to paho; returns its MessageInfo (rc, mid)
        self._connected = connected
        self._generation = generation  # successful connects: a new one means paho re-sends
        self._health = health
        self._qos = qos
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._published_mids: deque[int] = deque()  # from paho's thread to the worker
        self._inflight: dict[int, int] = {}  # paho mid -> event seq, awaiting PUBACK
        self._to_ack: deque[int] = deque()  # confirmed by the broker, not yet acked in the outbox
        self._sent_upto = 0  # highest seq handed to paho
        self._seen_generation = 0
        self._resend_pending = False
        self._progress_at = 0.0
        self.backlog = 0

    # ----------------------------------------------------------------------------- the thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="moodpi-mqtt-outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """There is something to do (new events, a connect): never blocks."""
        self._wake.set()

    def confirmed(self, mid: int) -> None:
        """paho's thread: the broker acknowledged message `mid`."""
        self._published_mids.append(mid)  # resolved to a seq by the worker, which owns the map
        self._wake.set()

    def stop(self, timeout_s: float) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.pump()
            except Exception:
                self._health.count("worker_errors")
                if self._health.throttle.allow("worker") is not None:
                    log.exception("MQTT outbox worker failed; retrying")

    # ----------------------------------------------------------------------------- delivery

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def pump(self) -> None:
        """Ack what the broker confirmed, then send what fits, in seq order. Worker thread only."""
        now = time.monotonic()
        while self._published_mids:
            seq = self._inflight.pop(self._published_mids.popleft(), None)
            if seq is not None:
                self._to_ack.append(seq)
                self._progress_at = now
        while self._to_ack:
            self._outbox.ack(self._to_ack[0])  # on failure the rest stays queued for the next pump
            self._to_ack.popleft()
            self._health.count("events_acked")
        if not self._inflight:
            self._resend_pending = False
        if not self._connected():
            return
        generation = self._generation()
        if generation != self._seen_generation:
            # paho re-sends what was in flight when the connection dropped; new events queue behind.
            self._seen_generation = generation
            self._resend_pending = bool(self._inflight)
            self._progress_at = now
        if self._inflight and now - self._progress_at > INFLIGHT_STALL_S:
            log.warning(
                "MQTT: %d events unconfirmed for %.0f s; sending the outbox again",
                len(self._inflight),
                now - self._progress_at,
            )
            self._inflight.clear()
            self._sent_upto = 0
            self._resend_pending = False
        if not self._resend_pending:
            self._send_more()

    def _send_more(self) -> None:
        from paho.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS

        room = EVENT_WINDOW - len(self._inflight)
        if room <= 0:
            return
        events = self._outbox.pending(limit=len(self._inflight) + len(self._to_ack) + room)
        self.backlog = len(events)
        qos = self._qos
        for event in [e for e in events if _seq(e) > self._sent_upto][:room]:
            if not self._connected():
                return
            info = self._send(event)
            if info.rc != MQTT_ERR_SUCCESS and not (qos > 0 and info.rc == MQTT_ERR_NO_CONN):
                return  # not queued by paho: try again on the next wake
            if not self._inflight:
                self._progress_at = time.monotonic()  # the stall clock starts with the first
            self._inflight[info.mid] = _seq(event)
            self._sent_upto = _seq(event)
            self._health.count("events_sent")


def _seq(event: dict[str, Any]) -> int:
    seq = event.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else -1
