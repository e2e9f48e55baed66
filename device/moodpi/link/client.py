"""A paho client built from the `[mqtt]` config, shared by the link, `moodpi mqtt cleanup` and
`moodpi doctor`: credentials, TLS, the base topic, and what a refused connection means.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from moodpi.config import ConfigError, MqttConfig
from moodpi.link.discovery import default_base_topic

log = logging.getLogger(__name__)

PASSWORD_ENV = "MOODPI_MQTT_PASSWORD"
AUTH_REFUSALS = frozenset({"Bad user name or password", "Not authorized"})


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


def refusal_message(reason: Any, config: MqttConfig) -> str:
    name = getattr(reason, "getName", lambda: str(reason))()
    if name in AUTH_REFUSALS:
        return (
            f"broker {config.host}:{config.port} rejected the username or password (it said: "
            f"{name.lower()}); check mqtt.username and mqtt.password_file or ${PASSWORD_ENV}"
        )
    return f"broker {config.host}:{config.port} refused the connection: {name}"
