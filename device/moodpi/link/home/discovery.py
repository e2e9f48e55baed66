"""Home Assistant MQTT discovery: topic names and discovery payloads, built by pure functions.

Two discovery modes:
- `component` (default): one retained config per entity under
  `<prefix>/<component>/<node_id>/<object_id>/config`. Understood by every Home Assistant release
  since 2023 and by openHAB. The device block keeps to the keys Home Assistant 2024.1 documents
  (identifiers, name, model, manufacturer, sw_version): older releases reject a whole entity when
  its device block holds a key they do not know.
- `device` (Home Assistant >= 2024.12): one retained config `<prefix>/device/<node_id>/config`
  holding the device, the origin, the shared availability and a `cmps` map of components.

Entity keys outside the device block are safe either way: discovery drops unknown entity keys.
State values outside an enum's options would put the entity in error, so templates render `None`
(Home Assistant's "unknown") instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from moodpi.link.home import templates as tpl
from moodpi.types import DISCOVERY_MODES, EMOTIONS, POLICIES, DiscoveryMode

# The modes that publish configs ("off" publishes none).
PUBLISHED_MODES: tuple[DiscoveryMode, ...] = tuple(m for m in DISCOVERY_MODES if m != "off")
PAYLOAD_ONLINE = "online"
PAYLOAD_OFFLINE = "offline"
MODEL = "moodpi"
MANUFACTURER = "moodpi"

_NODE_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")


def node_id(device_id: str) -> str:
    """The device id as Home Assistant accepts it in a discovery topic ([a-zA-Z0-9_-]+)."""
    return _NODE_ID_BAD.sub("_", device_id) or "moodpi"


def default_base_topic(device_id: str) -> str:
    return f"moodpi/{node_id(device_id)}"


@dataclass(frozen=True)
class Topics:
    """Every topic moodpi publishes or listens on, below one base."""

    base: str
    discovery_prefix: str = "homeassistant"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def diagnostics(self) -> str:
        return f"{self.base}/diagnostics"

    @property
    def command_prefix(self) -> str:
        return f"{self.base}/cmd/"

    @property
    def command_filter(self) -> str:
        return f"{self.base}/cmd/#"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def command(self, name: str) -> str:
        return f"{self.command_prefix}{name}"


@dataclass(frozen=True)
class DeviceInfo:
    """What discovery says about this appliance."""

    device_id: str
    name: str
    version: str
    topics: Topics
    qos: int = 1

    @property
    def node_id(self) -> str:
        return node_id(self.device_id)


@dataclass(frozen=True)
class Entity:
    """One Home Assistant entity: its platform, object id, and config without device or origin."""

    component: str
    object_id: str
    config: dict[str, Any]


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


_BUTTONS = (
    ("skip", "Skip track", "mdi:skip-next"),
    ("pause", "Pause music", "mdi:pause"),
    ("resume", "Resume music", "mdi:play"),
)
_PRESS = {"payload_press": "PRESS"}


def entities(info: DeviceInfo) -> list[Entity]:
    """All entities of the device, in a stable order."""
    t = info.topics
    uid = f"moodpi_{info.node_id}"

    def entity(component: str, object_id: str, **config: Any) -> Entity:
        return Entity(component, object_id, {"unique_id": f"{uid}_{object_id}", **config})

    return [
        entity(
            "sensor",
            "emotion",
            name="Emotion",
            icon="mdi:emoticon-outline",
            device_class="enum",
            options=list(EMOTIONS),
            state_topic=t.state,
            value_template=tpl.choice_template("emotion", EMOTIONS),
            json_attributes_topic=t.state,
            json_attributes_template=tpl.EMOTION_ATTRIBUTES_TEMPLATE,
        ),
        entity(
            "binary_sensor",
            "presence",
            name="Presence",
            device_class="occupancy",
            state_topic=t.state,
            value_template=tpl.on_off_template("presence"),
        ),
        entity(
            "sensor",
            "faces",
            name="Faces",
            icon="mdi:account-group",
            state_class="measurement",
            state_topic=t.state,
            value_template=tpl.number_template("faces"),
        ),
        entity(
            "binary_sensor",
            "camera_in_use",
            name="Camera in use",
            icon="mdi:camera",
            state_topic=t.state,
            value_template=tpl.on_off_template("camera_in_use"),
        ),
        entity(
            "sensor",
            "now_playing",
            name="Now playing",
            icon="mdi:music",
            state_topic=t.state,
            value_template=tpl.NOW_PLAYING_TEMPLATE,
            json_attributes_topic=t.state,
            json_attributes_template=tpl.NOW_PLAYING_ATTRIBUTES_TEMPLATE,
        ),
        entity(
            "event",
            "mood_change",
            name="Mood change",
            icon="mdi:emoticon-outline",
            event_types=list(EMOTIONS),
            state_topic=t.event,
            value_template=tpl.EVENT_TEMPLATE,
            qos=info.qos,
        ),
        entity(
            "switch",
            "detection",
            name="Detection",
            icon="mdi:cctv",
            command_topic=t.command("detection"),
            payload_on="ON",
            payload_off="OFF",
            state_topic=t.state,
            value_template=tpl.on_off_template("detection"),
        ),
        entity(
            "switch",
            "quiet_hours",
            name="Quiet hours",
            icon="mdi:sleep",
            command_topic=t.command("quiet_hours"),
            payload_on="ON",
            payload_off="OFF",
            state_topic=t.state,
            value_template=tpl.on_off_template("quiet_hours"),
        ),
        entity(
            "select",
            "policy",
            name="Music policy",
            icon="mdi:playlist-music",
            options=list(POLICIES),
            command_topic=t.command("policy"),
            state_topic=t.state,
            value_template=tpl.choice_template("policy", POLICIES),
        ),
        entity(
            "number",
            "volume",
            name="Volume",
            icon="mdi:volume-high",
            min=0,
            max=100,
            step=1,
            mode="slider",
            unit_of_measurement="%",
            command_topic=t.command("volume"),
            state_topic=t.state,
            value_template=tpl.number_template("volume"),
        ),
        *(
            entity("button", oid, name=label, icon=icon, command_topic=t.command(oid), **_PRESS)
            for oid, label, icon in _BUTTONS
        ),
        entity(
            "binary_sensor",
            "audio_problem",
            name="Audio output",
            device_class="problem",
            entity_category="diagnostic",
            state_topic=t.state,
            value_template=tpl.AUDIO_PROBLEM_TEMPLATE,
        ),
        entity(
            "sensor",
            "library_analysed",
            name="Music analysed",
            icon="mdi:music-box-multiple",
            unit_of_measurement="tracks",
            entity_category="diagnostic",
            state_topic=t.state,
            value_template=tpl.LIBRARY_TEMPLATE,
            json_attributes_topic=t.state,
            json_attributes_template=tpl.LIBRARY_ATTRIBUTES_TEMPLATE,
        ),
        entity(
            "sensor",
            "fps",
            name="Frame rate",
            icon="mdi:camera-timer",
            unit_of_measurement="fps",
            state_class="measurement",
            entity_category="diagnostic",
            state_topic=t.diagnostics,
            value_template=tpl.number_template("fps"),
        ),
        entity(
            "sensor",
            "cpu_temperature",
            name="CPU temperature",
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
            entity_category="diagnostic",
            state_topic=t.diagnostics,
            value_template=tpl.number_template("cpu_temp_c"),
        ),
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
