"""Rules across a field's whole value that a type and bounds cannot say: hosts, topics, sources.

Applied to every Config built (file, environment, `from_dict`), so that what reaches paho or a
camera factory is sane: a host is a bare name or address (no port, no blanks), a topic prefix
holds no wildcard and stays short, a camera source has a known scheme. Each problem is a
ConfigError naming the key; `check_values` returns them all.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from moodpi.config.schema import Config, ConfigError

MAX_HOST_CHARS = 253  # DNS
MAX_TOPIC_PREFIX_CHARS = 200  # far below MQTT's 65535 bytes, with room for the suffixes
MAX_ID_CHARS = 128  # client id, username, device id and name
CAMERA_SCHEMES = ("auto", "picamera2", "v4l2:DEVICE", "replay:PATH")
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_values(config: Config) -> list[ConfigError]:
    """Every problem of the config's values that its types and bounds cannot say."""
    return [ConfigError(key, problem) for key, problem in _problems(config)]


def _problems(config: Config) -> Iterator[tuple[str, str]]:
    mqtt = config.mqtt
    if mqtt.host and (problem := host_problem(mqtt.host)):
        yield "mqtt.host", problem
    if mqtt.base_topic and (problem := topic_prefix_problem(mqtt.base_topic)):
        yield "mqtt.base_topic", problem
    if problem := topic_prefix_problem(mqtt.discovery_prefix):
        yield "mqtt.discovery_prefix", problem
    short = {
        "mqtt.client_id": mqtt.client_id,
        "mqtt.username": mqtt.username,
        "device_id": config.device_id,
        "device_name": config.device_name,
    }
    for key, value in short.items():
        if len(value) > MAX_ID_CHARS:
            yield key, f"{len(value)} characters, over the limit of {MAX_ID_CHARS}"
        elif _CONTROL.search(value):
            yield key, f"{_show(value)} contains a control character"
    if problem := camera_source_problem(config.camera.source):
        yield "camera.source", problem


def host_problem(host: str) -> str | None:
    """Why `host` is no broker host name or address, or None."""
    if not host.strip():
        return "blank: leave it empty to turn MQTT off"
    if len(host) > MAX_HOST_CHARS:
        return f"{len(host)} characters, over {MAX_HOST_CHARS}"
    if any(c.isspace() for c in host) or _CONTROL.search(host):
        return f"{_show(host)} contains blanks or control characters"
    if "://" in host or "/" in host:
        return f"{_show(host)}: a host name or address, not a URL"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{_show(host)}: no port here, set mqtt.port instead"
        return None
    if not _HOST_NAME.fullmatch(host):
        return f"{_show(host)} is not a host name or IP address"
    return None


def topic_prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot start MQTT topics moodpi publishes and subscribes to, or None."""
    if not prefix.strip("/"):
        return f"{_show(prefix)} is empty"
    if len(prefix) > MAX_TOPIC_PREFIX_CHARS:
        return f"{len(prefix)} characters, over the limit of {MAX_TOPIC_PREFIX_CHARS}"
    if "+" in prefix or "#" in prefix:
        return f"{_show(prefix)} holds an MQTT wildcard (+ or #)"
    if _CONTROL.search(prefix):
        return f"{_show(prefix)} contains a control character"
    if prefix.startswith("/") or prefix.endswith("/"):
        return f"{_show(prefix)} starts or ends with '/'"
    return None


def camera_source_problem(source: str) -> str | None:
    spec = source.strip()
    scheme, colon, arg = spec.partition(":")
    if spec == "auto" or scheme == "picamera2" or (scheme in ("v4l2", "replay") and colon and arg):
        return None
    return f"unknown camera source {_show(source)}: expected {', '.join(CAMERA_SCHEMES)}"


def _show(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
