"""A paho client built from the `[mqtt]` config, shared by the link, `moodpi mqtt cleanup` and
`moodpi doctor`: credentials, TLS, the base topic, and what a refused connection means.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

from moodpi.config import ConfigError, MqttConfig
from moodpi.config.checks import topic_prefix_problem
from moodpi.config.files import read_password_file, tls_context
from moodpi.link.topics import default_base_topic

log = logging.getLogger(__name__)

PASSWORD_ENV = "MOODPI_MQTT_PASSWORD"
AUTH_REFUSALS = frozenset({"Bad user name or password", "Not authorized"})


def read_password(config: MqttConfig, environ: dict[str, str] | None = None) -> str | None:
    """The broker password from `password_file`, else $MOODPI_MQTT_PASSWORD, else None."""
    if config.password_file:  # bounded: a FIFO or /dev/zero here is a ConfigError
        return read_password_file(config.password_file)
    env = os.environ if environ is None else environ
    return env.get(PASSWORD_ENV) or None


def base_topic(config: MqttConfig, device_id: str) -> str:
    base = config.base_topic or default_base_topic(device_id)
    if problem := topic_prefix_problem(base):
        raise ConfigError("mqtt.base_topic", problem)
    return base


class _PahoLog:
    """paho's own log lines, all at DEBUG: moodpi logs every condition that matters itself, and
    paho reports a normal shutdown race ("Client is not connected") as an error."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def log(self, _level: int, fmt: str, *args: Any) -> None:
        self._logger.debug(fmt, *args)


def make_client(config: MqttConfig, client_id: str, password: str | None) -> Any:
    from paho.mqtt.client import Client, MQTTv311
    from paho.mqtt.enums import CallbackAPIVersion

    client = Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTv311, clean_session=True
    )
    client.enable_logger(_PahoLog(logging.getLogger(f"{__name__}.paho")))  # type: ignore[arg-type]
    client.suppress_exceptions = True  # second line of defence behind our own guards
    if config.username:
        client.username_pw_set(config.username, password)
    elif password:
        log.warning("a password is set but mqtt.username is empty: connecting without credentials")
    if config.tls_ca:  # the files read bounded and checked by the config's own rules
        client.tls_set_context(tls_context(config.tls_ca, config.tls_cert, config.tls_key))
    return client


def record_connect_errors(client: Any) -> Callable[[], BaseException | None]:
    """The error of the client's last failed connect attempt (None once one succeeds).

    paho calls on_connect_fail without saying why; the reason (a certificate that failed
    verification, a refused port, a name that does not resolve) is what reconnect() raised.
    """
    failures: list[BaseException | None] = [None]
    reconnect = client.reconnect

    def recording_reconnect() -> Any:
        try:
            result = reconnect()
        except OSError as exc:
            failures[0] = exc
            raise
        failures[0] = None
        return result

    client.reconnect = recording_reconnect
    return lambda: failures[0]


def connect_error_message(exc: BaseException | None, config: MqttConfig) -> str:
    """What a failed connect means, in words that name the setting to look at."""
    where = f"cannot connect to {config.host}:{config.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"{where}: TLS: the broker's certificate failed verification against mqtt.tls_ca "
            f"({config.tls_ca}): {exc.verify_message or exc.reason}"
        )
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS handshake failed ({exc.reason or exc}); is it a TLS port?"
    if isinstance(exc, ConnectionResetError) and config.tls_ca:
        return f"{where}: connection reset in the TLS handshake; is it a TLS port?"
    if isinstance(exc, socket.gaierror):
        return f"{where}: cannot resolve mqtt.host {config.host!r} ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return f"{where}: no answer, connection refused (nothing listens there)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"{where}: no answer (broker down, or a firewall)"
    if exc is not None:
        return f"{where}: {exc}"
    return f"{where} (broker down or unreachable)"


def refusal_message(reason: Any, config: MqttConfig) -> str:
    name = getattr(reason, "getName", lambda: str(reason))()
    if name in AUTH_REFUSALS:
        return (
            f"broker {config.host}:{config.port} rejected the username or password (it said: "
            f"{name.lower()}); check mqtt.username and mqtt.password_file or ${PASSWORD_ENV}"
        )
    return f"broker {config.host}:{config.port} refused the connection: {name}"
