"""MQTT commands in: pure parsing and validation, and the rate limit applied to them.

`validate_command` turns `<base>/cmd/<suffix>` and its payload into a `Command` or says why not
(`CommandRejected`); `TokenBucket` caps how many commands are carried out; `CommandGate` applies
both to each message as paho's thread receives it, counting and (throttled) logging the rejects.
Clocks are injected so tests need no sleeps.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from moodpi.link.health import LinkHealth
from moodpi.types import COMMAND_NAMES, POLICIES

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 256


@dataclass(frozen=True)
class Command:
    """A valid command: detection and quiet_hours (bool), policy (str), volume (int 0-100),
    pause/resume/skip."""

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
    if topic_suffix not in COMMAND_NAMES:
        raise CommandRejected(f"unknown command (known: {', '.join(COMMAND_NAMES)})")
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRejected(f"payload of {len(payload)} bytes is over {MAX_COMMAND_BYTES}")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandRejected("payload is not UTF-8 text") from None
    if len(text) >= 2 and text[0] == text[-1] == '"':  # a JSON string is welcome too
        text = text[1:-1].strip()
    word = text.lower()
    if topic_suffix in ("detection", "quiet_hours"):
        if word in _TRUE or word in _FALSE:
            return Command(topic_suffix, word in _TRUE)
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


class CommandGate:
    """Commands as they arrive on paho's thread: validated, rate-limited and counted; each valid
    one handed to `on_command` (which must not block the network thread)."""

    def __init__(
        self,
        on_command: Callable[[Command], None],
        health: LinkHealth,
        *,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_command = on_command
        self._health = health
        self._bucket = TokenBucket(rate_per_s, burst, clock)

    def receive(self, suffix: str, payload: bytes, retained: bool) -> None:
        """One message on `<base>/cmd/<suffix>`."""
        try:
            command = validate_command(suffix, payload, retained)
        except CommandRejected as exc:
            self._health.count("commands_rejected")
            self._health.warn("rejected", "MQTT: ignored command %r: %s", suffix[:60], exc)
            return
        if not self._bucket.take():
            self._health.count("commands_rate_limited")
            self._health.warn(
                "rate", "MQTT: command %s dropped: more than the rate limit allows", command.name
            )
            return
        self._health.count("commands_accepted")
        log.debug("MQTT command %s %r", command.name, command.value)
        self._on_command(command)
