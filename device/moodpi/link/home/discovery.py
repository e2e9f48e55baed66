"""Home Assistant MQTT discovery: the retained configs of moodpi's entities, by pure functions.

Two discovery modes:
- `component` (default): one retained config per entity under
  `<prefix>/<component>/<node_id>/<object_id>/config`. Understood by every Home Assistant release
  since 2023 and by openHAB. The device block keeps to the keys Home Assistant 2024.1 documents
  (identifiers, name, model, manufacturer, sw_version): older releases reject a whole entity when
  its device block holds a key they do not know.
- `device` (Home Assistant >= 2024.12): one retained config `<prefix>/device/<node_id>/config`
  holding the device, the origin, the shared availability and a `cmps` map of components.

The entities themselves are entities.py's; the topics moodpi.link.topics'.
"""

from __future__ import annotations

import json
from typing import Any

from moodpi.link.home.entities import DeviceInfo, Entity, entities
from moodpi.link.topics import PAYLOAD_OFFLINE, PAYLOAD_ONLINE, Topics
from moodpi.types import DISCOVERY_MODES, DiscoveryMode

# The modes that publish configs ("off" publishes none).
PUBLISHED_MODES: tuple[DiscoveryMode, ...] = tuple(m for m in DISCOVERY_MODES if m != "off")
MODEL = "moodpi"
MANUFACTURER = "moodpi"


def device_block(info: DeviceInfo) -> dict[str, Any]:
    # Only keys Home Assistant 2024.1 knows: an unknown key there drops the whole entity.
    return {
        "identifiers": [f"moodpi_{info.node_id}"],
        "name": info.name,
        "model": MODEL,
        "manufacturer": MANUFACTURER,
        "sw_version": info.version,
    }


def origin_block(info: DeviceInfo) -> dict[str, Any]:
    # No support_url: Home Assistant shows it as a link, and moodpi has no public home yet; a
    # made-up address would send users nowhere.
    return {"name": "moodpi", "sw_version": info.version}


def availability_block(topics: Topics) -> list[dict[str, str]]:
    return [
        {
            "topic": topics.availability,
            "payload_available": PAYLOAD_ONLINE,
            "payload_not_available": PAYLOAD_OFFLINE,
        }
    ]


def component_topic(info: DeviceInfo, entity: Entity) -> str:
    prefix = info.topics.discovery_prefix
    return f"{prefix}/{entity.component}/{info.node_id}/{entity.object_id}/config"


def device_topic(info: DeviceInfo) -> str:
    return f"{info.topics.discovery_prefix}/device/{info.node_id}/config"


def component_configs(info: DeviceInfo) -> list[tuple[str, dict[str, Any]]]:
    """Per-component discovery: (topic, payload) per entity, with device, origin, availability."""
    shared = {
        "availability": availability_block(info.topics),
        "device": device_block(info),
        "origin": origin_block(info),
    }
    return [(component_topic(info, e), {**e.config, **shared}) for e in entities(info)]


def device_config(info: DeviceInfo) -> tuple[str, dict[str, Any]]:
    """Device-based discovery: one payload with the shared blocks and a `cmps` map."""
    components = {e.object_id: {"platform": e.component, **e.config} for e in entities(info)}
    payload = {
        "device": device_block(info),
        "origin": origin_block(info),
        "availability": availability_block(info.topics),
        "qos": info.qos,
        "cmps": components,
    }
    return device_topic(info), payload


def discovery_configs(info: DeviceInfo, mode: str) -> list[tuple[str, dict[str, Any]]]:
    if mode == "component":
        return component_configs(info)
    if mode == "device":
        return [device_config(info)]
    raise ValueError(f"unknown discovery mode {mode!r} (one of {', '.join(PUBLISHED_MODES)})")


def discovery_messages(info: DeviceInfo, mode: str) -> list[tuple[str, str]]:
    """(topic, JSON payload) pairs to publish retained."""
    return [
        (topic, json.dumps(payload, ensure_ascii=False))
        for topic, payload in discovery_configs(info, mode)
    ]


def cleanup_messages(info: DeviceInfo, mode: str | None = None) -> list[tuple[str, str]]:
    """The discovery topics of `mode` (None: both) with empty payloads, to publish retained."""
    modes = PUBLISHED_MODES if mode is None else (mode,)
    return [(topic, "") for m in modes for topic, _ in discovery_configs(info, m)]
