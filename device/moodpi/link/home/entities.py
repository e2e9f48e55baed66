"""The device and the entities moodpi offers Home Assistant, each bound to its topic and template.

Entity keys are safe across Home Assistant releases (discovery drops keys it does not know);
state values outside an enum's options would put the entity in error, so the templates
(templates.py) render `None` (Home Assistant's "unknown") instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moodpi.link.home import templates as tpl
from moodpi.link.topics import Topics, node_id
from moodpi.types import EMOTIONS, POLICIES


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
            "binary_sensor",
            "music_problem",
            name="Music library",
            device_class="problem",
            entity_category="diagnostic",
            state_topic=t.state,
            value_template=tpl.MUSIC_PROBLEM_TEMPLATE,
            json_attributes_topic=t.state,
            json_attributes_template=tpl.MUSIC_PROBLEM_ATTRIBUTES_TEMPLATE,
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
