"""`moodpi mqtt cleanup`: empty the retained Home Assistant discovery configs of this device."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from moodpi.config import MqttConfig
from moodpi.link.client import base_topic, make_client, read_password, refusal_message
from moodpi.link.home.discovery import cleanup_messages
from moodpi.link.home.entities import DeviceInfo
from moodpi.link.topics import Topics

log = logging.getLogger(__name__)

EX_UNAVAILABLE = 69
RETAINED_GRACE_S = 0.5  # retained messages follow the SUBACK at once; wait this long for quiet


def cleanup(
    config: MqttConfig, info: DeviceInfo, password: str | None, timeout_s: float = 10.0
) -> int:
    """Empty the retained discovery configs of this device that the broker holds; 0 on success.

    Both modes' topics are looked at, but only configs actually retained are emptied: an empty
    payload on a topic Home Assistant never saw makes it log a warning.
    """
    client = make_client(config, f"moodpi-{info.node_id}-cleanup", password)
    answered, subscribed = threading.Event(), threading.Event()
    refusal: list[str] = []
    found: dict[str, float] = {}  # retained topic -> arrival time
    candidates = [topic for topic, _ in cleanup_messages(info)]

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refusal.append(refusal_message(reason, config))
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
