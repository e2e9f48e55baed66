"""MQTT link: availability, retained state, outbox drain, Home Assistant discovery, commands in.

Threads: paho's network thread runs the callbacks; they only flip flags, publish small retained
messages and queue work. One worker thread owns the outbox: it reads pending events, publishes
them in `seq` order (QoS `qos`, never retained), and acknowledges each to the outbox only after the
broker's PUBACK. Events still unacknowledged when the connection drops stay in paho's session
queue and are re-sent first on reconnect; new events wait until those are through, so order holds.

Retained latest-value topics (availability, discovery, state, diagnostics) go out at QoS 0 and are
all re-published on every connect: a QoS 1 copy left in paho's queue across a reconnect would be
re-sent after the fresh one and overwrite a newer state with an older one.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from moodpi.config import ConfigError, MqttConfig
from moodpi.ha import (
    COMMANDS,
    PAYLOAD_OFFLINE,
    PAYLOAD_ONLINE,
    POLICIES,
    DeviceInfo,
    Topics,
    cleanup_messages,
    default_base_topic,
    discovery_messages,
)

log = logging.getLogger(__name__)

PASSWORD_ENV = "MOODPI_MQTT_PASSWORD"
MAX_COMMAND_BYTES = 256
EVENT_WINDOW = 16  # events in flight at once; below paho's default max_inflight of 20
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 15
INFLIGHT_STALL_S = 60.0  # connected, yet no PUBACK for this long: send the outbox again
STOP_TIMEOUT_S = 3.0
WARN_EVERY_S = 10.0  # at most one warning per kind per interval (a barrage must not flood journald)

_AUTH_REFUSALS = {"Bad user name or password", "Not authorized"}
_STAT_KEYS = (
    "connects", "disconnects", "callback_errors", "worker_errors", "events_sent", "events_acked",
    "commands_accepted", "commands_rejected", "commands_rate_limited",
)  # fmt: skip


class Outbox(Protocol):
    """Undelivered events in `seq` order (moodpi.history.Journal implements it)."""

    def pending(self, limit: int = 100) -> list[dict[str, Any]]: ...

    def ack(self, seq: int) -> None: ...


class MemoryOutbox:
    """A bounded in-memory outbox for running without a journal (oldest dropped first, counted)."""

    def __init__(self, max_events: int = 1000) -> None:
        self._events: deque[dict[str, Any]] = deque()
        self._max_events = max_events
        self._lock = threading.Lock()
        self.dropped = 0

    def enqueue(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self._events) >= self._max_events:
                self._events.popleft()
                self.dropped += 1
            self._events.append(dict(event))

    def pending(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in islice(self._events, limit)]

    def ack(self, seq: int) -> None:
        with self._lock:
            self._events = deque(e for e in self._events if e.get("seq") != seq)

    def __len__(self) -> int:
        return len(self._events)


# ---------------------------------------------------------------------------------------------
# Commands: pure parsing and a token bucket


@dataclass(frozen=True)
class Command:
    """A valid command: detection (bool), policy (str), volume (int 0-100), pause/resume/skip."""

    name: str
    value: bool | int | str | None = None


class CommandRejected(ValueError):
    """Why a command message was ignored."""


_TRUE = {"on", "true", "1"}
_FALSE = {"off", "false", "0"}
_PRESS = {"", "press", "on", "true", "1"}
_NUMBER = re.compile(r"-?\d{1,3}(\.\d+)?")


def validate_command(topic_suffix: str, payload: bytes, retained: bool) -> Command:
    """The command for `<base>/cmd/<topic_suffix>`, or CommandRejected with the reason."""
    if retained:
        raise CommandRejected(
            "retained command ignored (a replayed command must not switch the device)"
        )
    if topic_suffix not in COMMANDS:
        raise CommandRejected(f"unknown command (known: {', '.join(COMMANDS)})")
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRejected(f"payload of {len(payload)} bytes is over {MAX_COMMAND_BYTES}")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandRejected("payload is not UTF-8 text") from None
    if len(text) >= 2 and text[0] == text[-1] == '"':  # a JSON string is welcome too
        text = text[1:-1].strip()
    word = text.lower()
    if topic_suffix == "detection":
        if word in _TRUE or word in _FALSE:
            return Command("detection", word in _TRUE)
        raise CommandRejected("expected ON or OFF")
    if topic_suffix == "policy":
        if word in POLICIES:
            return Command("policy", word)
        raise CommandRejected(f"expected one of {', '.join(POLICIES)}")
    if topic_suffix == "volume":
        if not _NUMBER.fullmatch(word) or not 0.0 <= float(word) <= 100.0:
            raise CommandRejected("expected a number from 0 to 100")
        return Command("volume", int(float(word) + 0.5))
    if word in _PRESS:
        return Command(topic_suffix)
    raise CommandRejected("expected an empty payload or PRESS")


def parse_command(topic_suffix: str, payload: bytes, retained: bool) -> Command | None:
    """The command, or None (logged) when retained, malformed, oversized or unknown."""
    try:
        return validate_command(topic_suffix, payload, retained)
    except CommandRejected as exc:
        log.warning("ignored command %r: %s", topic_suffix[:60], exc)
        return None


class TokenBucket:
    """`burst` commands at once, refilled at `rate_per_s`; the clock is injected for tests."""

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate_per_s = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(
            self._burst, self._tokens + max(0.0, now - self._last) * self._rate_per_s
        )
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class _Throttle:
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


# ---------------------------------------------------------------------------------------------
# Connection set-up shared by the link and `moodpi mqtt cleanup`


def read_password(config: MqttConfig, environ: dict[str, str] | None = None) -> str | None:
    """The broker password from `password_file`, else $MOODPI_MQTT_PASSWORD, else None."""
    if config.password_file:
        try:
            with open(config.password_file, encoding="utf-8") as f:
                return f.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                "mqtt.password_file", f"cannot read {config.password_file}: {exc}"
            ) from None
    env = os.environ if environ is None else environ
    return env.get(PASSWORD_ENV) or None


def base_topic(config: MqttConfig, device_id: str) -> str:
    base = config.base_topic or default_base_topic(device_id)
    if (
        not base.strip("/")
        or any(c in base for c in "+#\x00")
        or base.startswith("/")
        or base.endswith("/")
    ):
        raise ConfigError("mqtt.base_topic", f"{base!r} is not a valid topic prefix")
    return base


class _PahoLog:
    """paho's own log lines, all at DEBUG: this module logs every condition that matters, and
    paho reports a normal shutdown race ("Client is not connected") as an error."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def log(self, _level: int, fmt: str, *args: Any) -> None:
        self._logger.debug(fmt, *args)


def _make_client(config: MqttConfig, client_id: str, password: str | None) -> Any:
    from paho.mqtt.client import CallbackAPIVersion, Client, MQTTv311

    client = Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTv311, clean_session=True
    )
    client.enable_logger(_PahoLog(logging.getLogger(f"{__name__}.paho")))  # type: ignore[arg-type]
    client.suppress_exceptions = True  # second line of defence behind our own guards
    if config.username:
        client.username_pw_set(config.username, password)
    elif password:
        log.warning("a password is set but mqtt.username is empty: connecting without credentials")
    if config.tls_ca:
        try:
            client.tls_set(
                ca_certs=config.tls_ca,
                certfile=config.tls_cert or None,
                keyfile=config.tls_key or None,
            )
        except (OSError, ValueError) as exc:
            raise ConfigError("mqtt.tls_ca", f"cannot set up TLS: {exc}") from None
    return client


def _refusal_message(reason: Any, config: MqttConfig) -> str:
    name = getattr(reason, "getName", lambda: str(reason))()
    if name in _AUTH_REFUSALS:
        return (
            f"broker {config.host}:{config.port} rejected the username or password (it said: "
            f"{name.lower()}); check mqtt.username and mqtt.password_file or ${PASSWORD_ENV}"
        )
    return f"broker {config.host}:{config.port} refused the connection: {name}"


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: Home Assistant's parser would reject the whole message."""
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(
        _finite(data), sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")
    )


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
        self._on_command = on_command
        self.topics = Topics(base_topic(config, device_id), config.discovery_prefix)
        self.info = DeviceInfo(device_id, device_name, version, self.topics, qos=config.qos)
        self._client_id = config.client_id or f"moodpi-{self.info.node_id}"
        self._memory_outbox = MemoryOutbox() if outbox is None else None
        self._outbox: Outbox = outbox if outbox is not None else self._memory_outbox  # type: ignore[assignment]
        self._bucket = TokenBucket(command_rate_per_s, command_burst, clock)
        self._throttle = _Throttle(WARN_EVERY_S, clock)
        self._rediscovery_delay_s = rediscovery_delay_s
        self._client: Any = None
        self._worker: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._timer_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._state_json: str | None = None
        self._diagnostics_json: str | None = None
        self._connected = False
        self._generation = 0  # successful connects; the worker notices a new one
        self._published_mids: deque[int] = deque()  # from paho's thread to the worker
        # Owned by the worker thread only.
        self._inflight: dict[int, int] = {}  # paho mid -> event seq, awaiting PUBACK
        self._to_ack: deque[int] = deque()  # confirmed by the broker, not yet acked in the outbox
        self._sent_upto = 0  # highest seq handed to paho
        self._seen_generation = 0
        self._resend_pending = False
        self._progress_at = 0.0
        self._backlog = 0
        # Health.
        self._stats_lock = threading.Lock()
        self._stats = dict.fromkeys(_STAT_KEYS, 0)
        self._last_error: str | None = None
        self._auth_failed = False

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._client is not None:
            raise RuntimeError("MqttLink already started")
        cfg = self._config
        client = _make_client(cfg, self._client_id, self._password)
        client.will_set(self.topics.availability, PAYLOAD_OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        client.on_connect = self._guard("on_connect", self._handle_connect)
        client.on_connect_fail = self._guard("on_connect_fail", self._handle_connect_fail)
        client.on_disconnect = self._guard("on_disconnect", self._handle_disconnect)
        client.on_message = self._guard("on_message", self._handle_message)
        client.on_publish = self._guard("on_publish", self._handle_publish)
        self._client = client
        self._worker = threading.Thread(
            target=self._run_worker, name="moodpi-mqtt-outbox", daemon=True
        )
        self._worker.start()
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
        self._wake.set()
        with self._timer_lock:
            if self._timer is not None:
                self._timer.cancel()
        if self._worker is not None:
            self._worker.join(timeout_s)
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
        self._wake.set()

    def publish_event(self, event: dict[str, Any]) -> None:
        """Without an outbox the link keeps events in memory until the broker confirms them."""
        if self._memory_outbox is not None:
            self._memory_outbox.enqueue(event)
        self._wake.set()

    def health(self) -> dict[str, Any]:
        with self._stats_lock:
            stats = dict(self._stats)
        health: dict[str, Any] = {
            "connected": self._connected,
            "reconnects": max(0, stats["connects"] - 1),
            "last_error": self._last_error,
            "auth_failed": self._auth_failed,
            "outbox_backlog": self._backlog,
            "events_in_flight": len(self._inflight),
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
        for topic, payload in (
            (self.topics.state, self._state_json),
            (self.topics.diagnostics, self._diagnostics_json),
        ):
            if payload is not None:
                client.publish(topic, payload, qos=0, retain=True)

    # ----------------------------------------------------------------------------- paho callbacks

    def _guard(self, name: str, fn: Callable[..., None]) -> Callable[..., None]:
        """An exception escaping into paho's network thread could end it: count, log, carry on."""

        def guarded(*args: Any) -> None:
            try:
                fn(*args)
            except Exception:
                self._count("callback_errors")
                log.exception("MQTT %s failed (the network thread carries on)", name)

        return guarded

    def _handle_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._connected = False
            self._auth_failed = reason.getName() in _AUTH_REFUSALS
            self._set_error(_refusal_message(reason, self._config), logging.ERROR)
            return
        self._count("connects")
        self._last_error = None
        self._auth_failed = False
        self._connected = True
        self._generation += 1
        log.info(
            "MQTT connected to %s:%s (connect #%d)",
            self._config.host,
            self._config.port,
            self._generation,
        )
        client.subscribe([(self.topics.command_filter, 1), (self.topics.ha_status, 1)])
        self._publish_all_retained()
        self._wake.set()

    def _handle_connect_fail(self, _client: Any, _userdata: Any) -> None:
        self._set_error(
            f"cannot connect to {self._config.host}:{self._config.port} "
            f"(broker down or unreachable, or TLS failed); retrying up to {RECONNECT_MAX_S} s apart"
        )

    def _handle_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        was_connected, self._connected = self._connected, False
        if self._stopping.is_set() or not was_connected:
            return
        self._count("disconnects")
        self._set_error(
            f"connection to {self._config.host}:{self._config.port} lost ({reason}); reconnecting"
        )

    def _handle_publish(
        self, _client: Any, _userdata: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        self._published_mids.append(mid)  # resolved to a seq by the worker, which owns the map
        self._wake.set()

    def _handle_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        topic = msg.topic
        if topic == self.topics.ha_status:
            # A retained "online" was already answered by the publish on connect.
            if not msg.retain and msg.payload.strip() == PAYLOAD_ONLINE.encode():
                self._schedule_rediscovery()
            return
        prefix = self.topics.command_prefix
        if topic.startswith(prefix):
            self._handle_command(topic[len(prefix) :], bytes(msg.payload), bool(msg.retain))

    def _handle_command(self, suffix: str, payload: bytes, retained: bool) -> None:
        try:
            command = validate_command(suffix, payload, retained)
        except CommandRejected as exc:
            self._count("commands_rejected")
            self._warn("rejected", "MQTT: ignored command %r: %s", suffix[:60], exc)
            return
        if not self._bucket.take():
            self._count("commands_rate_limited")
            self._warn(
                "rate", "MQTT: command %s dropped: more than the rate limit allows", command.name
            )
            return
        self._count("commands_accepted")
        log.debug("MQTT command %s %r", command.name, command.value)
        self._on_command(command)

    def _schedule_rediscovery(self) -> None:
        delay_s = random.uniform(*self._rediscovery_delay_s)  # spread the load of many devices
        timer = threading.Timer(delay_s, self._guard("rediscovery", self._publish_all_retained))
        timer.daemon = True
        with self._timer_lock:
            if self._stopping.is_set():
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = timer
            timer.start()
        log.info("Home Assistant came online: re-publishing discovery in %.1f s", delay_s)

    # ----------------------------------------------------------------------------- outbox worker

    def _run_worker(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._pump()
            except Exception:
                self._count("worker_errors")
                if self._throttle.allow("worker") is not None:
                    log.exception("MQTT outbox worker failed; retrying")

    def _pump(self) -> None:
        now = time.monotonic()
        while self._published_mids:
            seq = self._inflight.pop(self._published_mids.popleft(), None)
            if seq is not None:
                self._to_ack.append(seq)
                self._progress_at = now
        while self._to_ack:
            self._outbox.ack(self._to_ack[0])  # on failure the rest stays queued for the next pump
            self._to_ack.popleft()
            self._count("events_acked")
        if not self._inflight:
            self._resend_pending = False
        if not self._connected:
            return
        if self._generation != self._seen_generation:
            # paho re-sends what was in flight when the connection dropped; new events queue behind.
            self._seen_generation = self._generation
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
        self._backlog = len(events)
        qos = self._config.qos
        for event in [e for e in events if _seq(e) > self._sent_upto][:room]:
            if not self._connected:
                return
            info = self._client.publish(self.topics.event, to_json(event), qos=qos, retain=False)
            if info.rc != MQTT_ERR_SUCCESS and not (qos > 0 and info.rc == MQTT_ERR_NO_CONN):
                return  # not queued by paho: try again on the next wake
            if not self._inflight:
                self._progress_at = time.monotonic()  # the stall clock starts with the first
            self._inflight[info.mid] = _seq(event)
            self._sent_upto = _seq(event)
            self._count("events_sent")

    # ----------------------------------------------------------------------------- helpers

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self._stats[key] += 1

    def _set_error(self, message: str, level: int = logging.WARNING) -> None:
        """Log a connection problem once when it appears, not at every retry."""
        if message != self._last_error:
            log.log(level, "MQTT: %s", message)
        self._last_error = message

    def _warn(self, key: str, fmt: str, *args: Any) -> None:
        held = self._throttle.allow(key)
        if held is None:
            return
        if held:
            fmt += " (%d similar held back)"
            args = (*args, held)
        log.warning(fmt, *args)


def _seq(event: dict[str, Any]) -> int:
    seq = event.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else -1


# ---------------------------------------------------------------------------------------------
# `moodpi mqtt cleanup`

EX_UNAVAILABLE = 69


RETAINED_GRACE_S = 0.5  # retained messages follow the SUBACK at once; wait this long for quiet


def cleanup(
    config: MqttConfig, info: DeviceInfo, password: str | None, timeout_s: float = 10.0
) -> int:
    """Empty the retained discovery configs of this device that the broker holds; 0 on success.

    Both modes' topics are looked at, but only configs actually retained are emptied: an empty
    payload on a topic Home Assistant never saw makes it log a warning.
    """
    client = _make_client(config, f"moodpi-{info.node_id}-cleanup", password)
    answered, subscribed = threading.Event(), threading.Event()
    refusal: list[str] = []
    found: dict[str, float] = {}  # retained topic -> arrival time
    candidates = [topic for topic, _ in cleanup_messages(info)]

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refusal.append(_refusal_message(reason, config))
        else:
            c.subscribe([(topic, 1) for topic in candidates])
        answered.set()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        if msg.retain and msg.payload:
            found[msg.topic] = time.monotonic()

    client.on_connect = on_connect
    client.on_subscribe = lambda *_args: subscribed.set()
    client.on_message = on_message
    client.connect_async(config.host, config.port, keepalive=config.keepalive)
    client.loop_start()
    try:
        if not answered.wait(timeout_s) or refusal or not subscribed.wait(timeout_s):
            why = refusal[0] if refusal else f"no answer from {config.host}:{config.port}"
            log.error("%s", why)
            return EX_UNAVAILABLE
        quiet_since = time.monotonic()
        while time.monotonic() - max([quiet_since, *found.values()]) < RETAINED_GRACE_S:
            time.sleep(0.05)
        topics = sorted(found)
        infos = [client.publish(topic, "", qos=1, retain=True) for topic in topics]
        deadline = time.monotonic() + timeout_s
        for item in infos:
            item.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
        if not all(item.is_published() for item in infos):
            log.error("the broker did not confirm every removal in %.0f s", timeout_s)
            return EX_UNAVAILABLE
        print(
            f"removed {len(topics)} retained discovery configs of device {info.node_id} "
            f"under {info.topics.discovery_prefix}/"
        )
        return 0
    finally:
        client.disconnect()
        client.loop_stop()


def cli_mqtt(args: Any) -> int:
    from moodpi import __version__
    from moodpi.config import EX_CONFIG, load

    config = load(args.config)
    if not config.mqtt.host:
        log.error("mqtt.host is not set: no broker to clean up")
        return EX_CONFIG
    topics = Topics(
        base_topic(config.mqtt, config.effective_device_id), config.mqtt.discovery_prefix
    )
    info = DeviceInfo(
        config.effective_device_id, config.device_name, __version__, topics, qos=config.mqtt.qos
    )
    return cleanup(config.mqtt, info, read_password(config.mqtt))
