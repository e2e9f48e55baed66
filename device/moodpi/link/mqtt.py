"""MQTT link: availability, retained state, outbox drain, Home Assistant discovery, commands in.

Threads: paho's network thread runs the callbacks; they only flip flags, publish small retained
messages and queue work. One worker thread owns the outbox: it reads pending events, publishes
them in `seq` order (QoS `qos`, never retained), and acknowledges each to the outbox only after the
broker's PUBACK. Events still unacknowledged when the connection drops stay in paho's session
queue and are re-sent first on reconnect; new events wait until those are through, so order holds.

Retained latest-value topics (availability, discovery, state, diagnostics) go out at QoS 0 and are
all re-published on every connect: a QoS 1 copy left in paho's queue across a reconnect would be
re-sent after the fresh one and overwrite a newer state with an older one.

The outbox worker, its delivery order and acknowledgements are moodpi.link.delivery's; commands
are parsed and rate-limited by moodpi.link.commands; counters and throttled warnings are
moodpi.link.health's; the paho client is built by moodpi.link.client, which `moodpi mqtt cleanup`
(moodpi.cli.mqtt) shares.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from moodpi.config import MqttConfig
from moodpi.link.client import (
    AUTH_REFUSALS,
    base_topic,
    connect_error_message,
    make_client,
    record_connect_errors,
    refusal_message,
)
from moodpi.link.commands import Command, CommandGate
from moodpi.link.delivery import Delivery
from moodpi.link.health import LinkHealth
from moodpi.link.home.discovery import discovery_messages
from moodpi.link.home.entities import DeviceInfo
from moodpi.link.home.rediscovery import Rediscovery
from moodpi.link.journal.outbox import MemoryOutbox, Outbox
from moodpi.link.payloads import to_json
from moodpi.link.topics import PAYLOAD_OFFLINE, PAYLOAD_ONLINE, Topics

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 15
STOP_TIMEOUT_S = 3.0


# ---------------------------------------------------------------------------------------------
# The link


class MqttLink:
    """The daemon's MQTT connection: inert when built, connected in start(), closed in stop()."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        device_id: str,
        device_name: str,
        version: str,
        outbox: Outbox | None,
        on_command: Callable[[Command], None],
        password: str | None,
        clock: Callable[[], float] = time.monotonic,
        command_rate_per_s: float = 2.0,
        command_burst: int = 10,
        rediscovery_delay_s: tuple[float, float] = (0.5, 3.0),
    ) -> None:
        self._config = config
        self._password = password
        self.topics = Topics(base_topic(config, device_id), config.discovery_prefix)
        self.info = DeviceInfo(device_id, device_name, version, self.topics, qos=config.qos)
        self._client_id = config.client_id or f"moodpi-{self.info.node_id}"
        self._memory_outbox = MemoryOutbox() if outbox is None else None
        self._outbox: Outbox = outbox if outbox is not None else self._memory_outbox  # type: ignore[assignment]
        self._health = LinkHealth(log, clock)
        self._commands = CommandGate(
            on_command,
            self._health,
            rate_per_s=command_rate_per_s,
            burst=command_burst,
            clock=clock,
        )
        self._rediscovery = Rediscovery(
            self._guard("rediscovery", self._publish_all_retained), delay_s=rediscovery_delay_s
        )
        self._client: Any = None
        self._connect_error: Callable[[], BaseException | None] = lambda: None
        self._stopping = threading.Event()
        self._state_json: str | None = None
        self._diagnostics_json: str | None = None
        self._connected = False
        self._generation = 0  # successful connects; the worker notices a new one
        self._delivery = Delivery(  # the outbox worker thread
            self._outbox, send=self._send_event, connected=lambda: self._connected,
            generation=lambda: self._generation, health=self._health, qos=config.qos,
        )  # fmt: skip
        self._listening = False  # the broker granted the command subscription (SUBACK)
        self._subscribe_mid: int | None = None

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._client is not None:
            raise RuntimeError("MqttLink already started")
        cfg = self._config
        client = make_client(cfg, self._client_id, self._password)
        self._connect_error = record_connect_errors(client)
        client.will_set(self.topics.availability, PAYLOAD_OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        client.on_connect = self._guard("on_connect", self._handle_connect)
        client.on_connect_fail = self._guard("on_connect_fail", self._handle_connect_fail)
        client.on_disconnect = self._guard("on_disconnect", self._handle_disconnect)
        client.on_message = self._guard("on_message", self._handle_message)
        client.on_publish = self._guard("on_publish", self._handle_publish)
        client.on_subscribe = self._guard("on_subscribe", self._handle_subscribe)
        self._client = client
        self._delivery.start()
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive)
        client.loop_start()
        log.info(
            "MQTT: connecting to %s:%s as %s%s, base topic %s, discovery %s",
            cfg.host,
            cfg.port,
            self._client_id,
            " over TLS" if cfg.tls_ca else "",
            self.topics.base,
            cfg.discovery,
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Retained `offline` (the broker sends no will on a clean disconnect), then disconnect."""
        client = self._client
        if client is None or self._stopping.is_set():
            return
        self._stopping.set()
        self._rediscovery.close()
        self._delivery.stop(timeout_s)
        if self._connected:
            try:
                info = client.publish(self.topics.availability, PAYLOAD_OFFLINE, qos=1, retain=True)
                info.wait_for_publish(timeout=timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("MQTT: could not publish offline before disconnecting: %s", exc)
        client.disconnect()
        stopper = threading.Thread(target=client.loop_stop, name="moodpi-mqtt-stop", daemon=True)
        stopper.start()
        stopper.join(timeout_s)
        self._connected = False
        log.info("MQTT link stopped")

    # ----------------------------------------------------------------------------- publishing API

    def publish_state(self, state: dict[str, Any]) -> None:
        """Retained JSON on `<base>/state`; the latest is kept and re-sent after every connect."""
        self._state_json = to_json(state)
        self._publish_retained(self.topics.state, self._state_json)

    def publish_diagnostics(self, diagnostics: dict[str, Any]) -> None:
        self._diagnostics_json = to_json(diagnostics)
        self._publish_retained(self.topics.diagnostics, self._diagnostics_json)

    def events_pending(self) -> None:
        """New events are in the outbox: wake the worker (never blocks)."""
        self._delivery.wake()

    def publish_event(self, event: dict[str, Any]) -> None:
        """Without an outbox the link keeps events in memory until the broker confirms them."""
        if self._memory_outbox is not None:
            self._memory_outbox.enqueue(event)
        self._delivery.wake()

    def health(self) -> dict[str, Any]:
        stats = self._health.stats()
        health: dict[str, Any] = {
            "connected": self._connected,
            "listening": self._connected and self._listening,  # commands can arrive
            "reconnects": max(0, stats["connects"] - 1),
            "last_error": self._health.last_error,
            "auth_failed": self._health.auth_failed,
            "outbox_backlog": self._delivery.backlog,
            "events_in_flight": self._delivery.in_flight,
            **stats,
        }
        if self._memory_outbox is not None:
            health["outbox_dropped"] = self._memory_outbox.dropped
        return health

    def _publish_retained(self, topic: str, payload: str) -> None:
        client = self._client
        if client is not None and self._connected:
            client.publish(topic, payload, qos=0, retain=True)

    def _publish_all_retained(self) -> None:
        """Everything a fresh broker or Home Assistant needs: discovery, availability, state."""
        client = self._client
        if client is None or not self._connected:
            return
        if self._config.discovery != "off":
            for topic, payload in discovery_messages(self.info, self._config.discovery):
                client.publish(topic, payload, qos=0, retain=True)
        client.publish(self.topics.availability, PAYLOAD_ONLINE, qos=0, retain=True)
        retained: tuple[tuple[str, str | None], ...] = (
            (self.topics.state, self._state_json),
            (self.topics.diagnostics, self._diagnostics_json),
        )
        for topic, document in retained:
            if document is not None:
                client.publish(topic, document, qos=0, retain=True)

    # ----------------------------------------------------------------------------- paho callbacks

    def _guard(self, name: str, fn: Callable[..., None]) -> Callable[..., None]:
        """An exception escaping into paho's network thread could end it: count, log, carry on."""

        def guarded(*args: Any) -> None:
            try:
                fn(*args)
            except Exception:
                self._health.count("callback_errors")
                log.exception("MQTT %s failed (the network thread carries on)", name)

        return guarded

    def _handle_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._connected = False
            self._health.auth_failed = reason.getName() in AUTH_REFUSALS
            self._health.set_error(refusal_message(reason, self._config), logging.ERROR)
            return
        self._health.count("connects")
        self._health.last_error = None
        self._health.auth_failed = False
        self._connected = True
        self._generation += 1
        held = self._health.throttle.allow("connected")
        if held is not None:  # a flapping link: one line
            log.info(
                "MQTT connected to %s:%s (connect #%d%s)",
                self._config.host,
                self._config.port,
                self._generation,
                f"; {held} reconnects not logged" if held else "",
            )
        self._listening = False
        _result, self._subscribe_mid = client.subscribe(
            [(self.topics.command_filter, 1), (self.topics.ha_status, 1)]
        )
        self._publish_all_retained()
        self._delivery.wake()

    def _handle_connect_fail(self, _client: Any, _userdata: Any) -> None:
        exc = self._connect_error()
        level = logging.ERROR if isinstance(exc, ssl.SSLCertVerificationError) else logging.WARNING
        message = connect_error_message(exc, self._config)
        self._health.set_error(f"{message}; retrying up to {RECONNECT_MAX_S} s apart", level)

    def _handle_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        was_connected, self._connected = self._connected, False
        if self._stopping.is_set() or not was_connected:
            return
        self._health.count("disconnects")
        self._health.set_error(
            f"connection to {self._config.host}:{self._config.port} lost ({reason}); reconnecting"
        )

    def _handle_subscribe(
        self, _client: Any, _userdata: Any, mid: int, reasons: Any, _props: Any
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [str(r) for r in reasons if r.is_failure]
        self._listening = not refused
        if refused:  # typically an ACL that lets moodpi publish but not read its command topics
            self._health.set_error(
                f"broker refused the command subscription ({', '.join(refused)}): "
                "Home Assistant controls will do nothing; check the broker's ACL",
                logging.ERROR,
            )

    def _handle_publish(
        self, _client: Any, _userdata: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        self._delivery.confirmed(mid)

    def _handle_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        topic = msg.topic
        if topic == self.topics.ha_status:
            # A retained "online" was already answered by the publish on connect.
            if not msg.retain and msg.payload.strip() == PAYLOAD_ONLINE.encode():
                self._rediscovery.request()  # coalesced: a flood cannot put it off nor log it
            return
        prefix = self.topics.command_prefix
        if topic.startswith(prefix):
            self._commands.receive(topic[len(prefix) :], bytes(msg.payload), bool(msg.retain))

    # ----------------------------------------------------------------------------- outbox

    def _send_event(self, event: dict[str, Any]) -> Any:
        """Hand one event to paho (QoS `qos`, never retained); paho's MessageInfo."""
        payload = to_json(event)
        return self._client.publish(self.topics.event, payload, qos=self._config.qos, retain=False)
