"""Delivery of the outbox to the broker, in `seq` order, each event acknowledged only after PUBACK.

Owned by the link's worker thread. Unconfirmed events stay in paho's session queue across a
reconnect and are re-sent first; new events wait until those are through, so order holds. A
connection that takes events but confirms none for INFLIGHT_STALL_S is given the outbox again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

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
        count: Callable[[str], None],
        qos: int = 1,
    ) -> None:
        self._outbox = outbox
        self._send = send  # one event to paho; returns its MessageInfo (rc, mid)
        self._connected = connected
        self._count_stat = count
        self._qos = qos
        self._inflight: dict[int, int] = {}  # paho mid -> event seq, awaiting PUBACK
        self._to_ack: deque[int] = deque()  # confirmed by the broker, not yet acked in the outbox
        self._sent_upto = 0  # highest seq handed to paho
        self._seen_generation = 0
        self._resend_pending = False
        self._progress_at = 0.0
        self.backlog = 0

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def pump(self, generation: int, published_mids: deque[int]) -> None:
        """Ack what the broker confirmed, then send what fits, in seq order. Worker thread only."""
        now = time.monotonic()
        while published_mids:
            seq = self._inflight.pop(published_mids.popleft(), None)
            if seq is not None:
                self._to_ack.append(seq)
                self._progress_at = now
        while self._to_ack:
            self._outbox.ack(self._to_ack[0])  # on failure the rest stays queued for the next pump
            self._to_ack.popleft()
            self._count_stat("events_acked")
        if not self._inflight:
            self._resend_pending = False
        if not self._connected():
            return
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
            self._count_stat("events_sent")


def _seq(event: dict[str, Any]) -> int:
    seq = event.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else -1
