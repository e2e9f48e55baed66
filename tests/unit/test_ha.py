"""Home Assistant discovery payloads: shape, both modes, cleanup, and the templates rendered."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from moodpi.link.commands import CommandRejected, validate_command
from moodpi.link.home import discovery as ha
from moodpi.link.home.entities import DeviceInfo, entities
from moodpi.link.topics import Topics, default_base_topic
from moodpi.types import EMOTIONS, POLICIES

# Device block keys Home Assistant 2024.1 documents; any other key makes it drop the entity.
DEVICE_KEYS_2024_1 = {
    "identifiers", "connections", "configuration_url", "hw_version", "manufacturer", "model",
    "name", "serial_number", "suggested_area", "sw_version", "via_device",
}  # fmt: skip
ENTITY_COMPONENTS = {"sensor", "binary_sensor", "switch", "select", "number", "button", "event"}


def make_info(device_id: str = "kitchen_pi", base: str | None = None) -> DeviceInfo:
    topics = Topics(base or default_base_topic(device_id), "homeassistant")
    return DeviceInfo(device_id, "Kitchen moodpi", "1.2.3", topics, qos=1)


def by_object(configs: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {topic.split("/")[-2]: payload for topic, payload in configs}


def test_every_component_config_has_unique_id_availability_device_and_origin() -> None:
    info = make_info()
    configs = ha.component_configs(info)
    assert len(configs) == len(entities(info)) >= 12
    unique_ids = [payload["unique_id"] for _, payload in configs]
    assert len(set(unique_ids)) == len(unique_ids)
    for topic, payload in configs:
        assert re.fullmatch(r"homeassistant/[a-z_]+/kitchen_pi/[a-zA-Z0-9_-]+/config", topic), topic
        assert topic.split("/")[1] in ENTITY_COMPONENTS
        assert payload["name"]
        assert payload["availability"] == [
            {
                "topic": "moodpi/kitchen_pi/availability",
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ]
        device = payload["device"]
        assert set(device) <= DEVICE_KEYS_2024_1, set(device) - DEVICE_KEYS_2024_1
        assert device["identifiers"] == ["moodpi_kitchen_pi"]
        assert device["name"] == "Kitchen moodpi" and device["sw_version"] == "1.2.3"
        assert device["model"] and device["manufacturer"]
        assert payload["origin"]["name"] == "moodpi" and payload["origin"]["sw_version"] == "1.2.3"
        assert "support_url" not in payload["origin"]  # no placeholder links
        json.dumps(payload)  # plain JSON data


def test_the_expected_entities_exist_with_their_platforms() -> None:
    configs = ha.component_configs(make_info())
    platforms = {topic.split("/")[-2]: topic.split("/")[1] for topic, _ in configs}
    assert platforms == {
        "emotion": "sensor", "presence": "binary_sensor", "now_playing": "sensor",
        "faces": "sensor", "camera_in_use": "binary_sensor", "quiet_hours": "switch",
        "mood_change": "event", "detection": "switch", "policy": "select", "volume": "number",
        "skip": "button", "pause": "button", "resume": "button",
        "audio_problem": "binary_sensor", "library_analysed": "sensor", "fps": "sensor",
        "cpu_temperature": "sensor",
    }  # fmt: skip


def test_emotion_sensor_is_an_enum_of_exactly_the_seven_emotions() -> None:
    emotion = by_object(ha.component_configs(make_info()))["emotion"]
    assert emotion["device_class"] == "enum"
    assert emotion["options"] == list(EMOTIONS)
    assert emotion["state_topic"] == "moodpi/kitchen_pi/state"
    assert emotion["json_attributes_topic"] == "moodpi/kitchen_pi/state"


def test_event_entity_listens_to_the_unretained_event_topic() -> None:
    info = make_info()
    event = by_object(ha.component_configs(info))["mood_change"]
    assert event["event_types"] == list(EMOTIONS)
    assert event["state_topic"] == info.topics.event
    assert "retain" not in event
    retained_topics = {info.topics.state, info.topics.availability, info.topics.diagnostics}
    assert info.topics.event not in retained_topics


def test_presence_and_diagnostics() -> None:
    configs = by_object(ha.component_configs(make_info()))
    assert configs["presence"]["device_class"] == "occupancy"
    for name in ("fps", "cpu_temperature"):
        assert configs[name]["entity_category"] == "diagnostic"
        assert configs[name]["state_topic"] == "moodpi/kitchen_pi/diagnostics"
    assert configs["cpu_temperature"]["device_class"] == "temperature"


def test_controls_send_payloads_the_command_parser_accepts() -> None:
    """The discovery contract and the command parser must agree, or the buttons do nothing."""
    info = make_info()
    configs = by_object(ha.component_configs(info))
    sent: list[tuple[str, str]] = [
        ("detection", configs["detection"]["payload_on"]),
        ("detection", configs["detection"]["payload_off"]),
        ("quiet_hours", configs["quiet_hours"]["payload_on"]),
        ("quiet_hours", configs["quiet_hours"]["payload_off"]),
        *(("policy", option) for option in configs["policy"]["options"]),
        ("volume", str(configs["volume"]["min"])),
        ("volume", str(configs["volume"]["max"])),
        *((name, configs[name]["payload_press"]) for name in ("skip", "pause", "resume")),
    ]
    for name, payload in sent:
        topic = configs[name]["command_topic"]
        assert topic == info.topics.command(name)
        validate_command(topic.removeprefix(info.topics.command_prefix), payload.encode(), False)
    assert configs["policy"]["options"] == list(POLICIES)
    assert (configs["volume"]["min"], configs["volume"]["max"]) == (0, 100)


def test_device_mode_is_one_config_with_shared_blocks_and_cmps() -> None:
    info = make_info()
    messages = ha.discovery_configs(info, "device")
    assert len(messages) == 1
    topic, payload = messages[0]
    assert topic == "homeassistant/device/kitchen_pi/config"
    assert set(payload["device"]) <= DEVICE_KEYS_2024_1
    assert payload["origin"]["name"] == "moodpi"
    assert payload["availability"][0]["topic"] == "moodpi/kitchen_pi/availability"
    component_uids = {p["unique_id"] for _, p in ha.component_configs(info)}
    cmps = payload["cmps"]
    assert {c["unique_id"] for c in cmps.values()} == component_uids
    for object_id, component in cmps.items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", object_id)
        assert component["platform"] in ENTITY_COMPONENTS
        assert "device" not in component and "origin" not in component  # root-only in this mode


def test_cleanup_empties_exactly_the_discovery_topics() -> None:
    info = make_info()
    for mode in ha.PUBLISHED_MODES:
        published = [topic for topic, _ in ha.discovery_messages(info, mode)]
        cleanup = ha.cleanup_messages(info, mode)
        assert [topic for topic, _ in cleanup] == published
        assert all(payload == "" for _, payload in cleanup)
    both = {topic for topic, _ in ha.cleanup_messages(info)}
    assert both == {t for m in ha.PUBLISHED_MODES for t, _ in ha.discovery_messages(info, m)}


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="discovery mode"):
        ha.discovery_messages(make_info(), "bogus")


def test_device_ids_are_made_safe_for_discovery_topics() -> None:
    info = make_info("Living Room/Pi+#")
    assert info.node_id == "Living_Room_Pi__"
    for topic, payload in ha.discovery_messages(info, "component"):
        assert re.fullmatch(r"homeassistant/[a-z_]+/Living_Room_Pi__/[a-z_]+/config", topic)
        assert json.loads(payload)["unique_id"].startswith("moodpi_Living_Room_Pi___")


def test_discovery_messages_are_json_text() -> None:
    for mode in ha.PUBLISHED_MODES:
        for _, payload in ha.discovery_messages(make_info(), mode):
            assert isinstance(json.loads(payload), dict)


# ---------------------------------------------------------------------------------------------
# Templates, rendered the way Home Assistant renders them (sandboxed Jinja, value_json)

jinja2 = pytest.importorskip("jinja2")
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

ENV = ImmutableSandboxedEnvironment()


def render(template: str, payload: dict[str, Any]) -> str:
    text = json.dumps(payload)
    return ENV.from_string(template).render(value=text, value_json=json.loads(text))


@pytest.fixture(scope="module")
def configs() -> dict[str, dict[str, Any]]:
    return by_object(ha.component_configs(make_info()))


@pytest.mark.parametrize(
    ("emotion", "expected"),
    [*((e, e) for e in EMOTIONS), ("bored", "None"), (None, "None"), (3, "None")],
)
def test_emotion_template_never_renders_outside_the_options(configs, emotion, expected) -> None:
    assert render(configs["emotion"]["value_template"], {"emotion": emotion}) == expected


def test_emotion_template_without_the_key_is_unknown(configs) -> None:
    assert render(configs["emotion"]["value_template"], {"presence": False}) == "None"


def test_emotion_attributes_carry_confidence_and_probabilities(configs) -> None:
    probabilities = dict.fromkeys(EMOTIONS, 0.1) | {"sad": 0.4}
    state = {"emotion": "sad", "confidence": 0.4, "probabilities": probabilities, "since": 12.5}
    attributes = json.loads(render(configs["emotion"]["json_attributes_template"], state))
    assert attributes == {"confidence": 0.4, "probabilities": probabilities, "since": 12.5}


@pytest.mark.parametrize(("value", "expected"), [(True, "ON"), (False, "OFF"), (None, "None")])
def test_on_off_templates(configs, value, expected) -> None:
    assert render(configs["presence"]["value_template"], {"presence": value}) == expected
    assert render(configs["detection"]["value_template"], {"detection": value}) == expected
    in_use = configs["camera_in_use"]["value_template"]
    assert render(in_use, {"camera_in_use": value}) == expected
    assert render(configs["quiet_hours"]["value_template"], {"quiet_hours": value}) == expected
    assert render(configs["presence"]["value_template"], {}) == "None"


@pytest.mark.parametrize(
    ("audio", "expected"), [(False, "ON"), (True, "OFF"), (None, "OFF"), (0, "OFF")]
)
def test_audio_problem_is_on_only_without_a_sound_device(configs, audio, expected) -> None:
    audio_problem = configs["audio_problem"]
    assert audio_problem["device_class"] == "problem"
    assert audio_problem["entity_category"] == "diagnostic"
    assert render(audio_problem["value_template"], {"audio": audio}) == expected
    assert render(audio_problem["value_template"], {"presence": True}) == "None"  # older daemon


def test_policy_and_volume_templates(configs) -> None:
    assert render(configs["policy"]["value_template"], {"policy": "iso"}) == "iso"
    assert render(configs["policy"]["value_template"], {"policy": "jazz"}) == "None"
    assert render(configs["volume"]["value_template"], {"volume": 55}) == "55"
    assert render(configs["volume"]["value_template"], {"volume": "loud"}) == "None"
    assert render(configs["volume"]["value_template"], {"volume": None}) == "None"


@pytest.mark.parametrize(
    ("now_playing", "expected"),
    [
        ({"title": "Clair de lune", "category": "calming", "path": "/m/c.ogg"}, "Clair de lune"),
        ("Artist – Song", "Artist – Song"),
        (None, "None"),
        ({"category": "calming"}, "None"),
        ({"title": "x" * 1000}, "x" * 255),  # Home Assistant rejects states over 255 characters
        (42, "None"),
    ],
)
def test_now_playing_template(configs, now_playing, expected) -> None:
    assert (
        render(configs["now_playing"]["value_template"], {"now_playing": now_playing}) == expected
    )


def test_now_playing_attributes(configs) -> None:
    track = {"title": "T", "category": "calming", "path": "/music/calming/t.ogg"}
    template = configs["now_playing"]["json_attributes_template"]
    state = {"now_playing": track, "player": "playing"}
    assert json.loads(render(template, state)) == {"category": "calming", "player": "playing"}
    assert json.loads(render(template, {"now_playing": None})) == {"category": None, "player": None}


def test_diagnostic_templates(configs) -> None:
    assert render(configs["fps"]["value_template"], {"fps": 9.8}) == "9.8"
    assert render(configs["cpu_temperature"]["value_template"], {"cpu_temp_c": 51.5}) == "51.5"
    assert render(configs["cpu_temperature"]["value_template"], {"fps": 9.8}) == "None"  # not a Pi


def test_event_template_turns_mood_events_into_home_assistant_events(configs) -> None:
    template = configs["mood_change"]["value_template"]
    mood = {
        "type": "mood",
        "seq": 7,
        "t": 3.2,
        "at": "2025-01-01T00:00:00.000Z",
        "emotion": "sad",
        "confidence": 0.7,
    }
    event = json.loads(render(template, mood))
    assert event == {
        "event_type": "sad",
        "confidence": 0.7,
        "seq": 7,
        "at": "2025-01-01T00:00:00.000Z",
    }
    # Presence events share the topic; an empty rendering is ignored by the event platform.
    assert render(template, {"type": "presence", "seq": 8, "present": False}) == ""
    assert render(template, {"type": "mood", "seq": 9, "emotion": "bored"}) == ""


def test_validate_command_rejects_what_discovery_never_sends() -> None:
    with pytest.raises(CommandRejected):
        validate_command("policy", b"jazz", False)


def test_quiet_hours_switch_commands_reach_the_daemon_as_booleans(configs) -> None:
    topic = configs["quiet_hours"]["command_topic"]
    assert topic == "moodpi/kitchen_pi/cmd/quiet_hours"
    assert validate_command("quiet_hours", b"ON", False).value is True
    assert validate_command("quiet_hours", b"off", False).value is False
    with pytest.raises(CommandRejected):
        validate_command("quiet_hours", b"tonight", False)


@pytest.mark.parametrize(("faces", "expected"), [(0, "0"), (3, "3"), (None, "None"), ("x", "None")])
def test_face_count_sensor(configs, faces, expected) -> None:
    sensor = configs["faces"]
    assert sensor["state_topic"] == "moodpi/kitchen_pi/state"
    assert sensor["state_class"] == "measurement"  # a number Home Assistant can graph
    assert render(sensor["value_template"], {"faces": faces}) == expected


def test_state_payload_carries_face_count_camera_and_quiet_hours() -> None:
    from moodpi.link.payloads import state_payload
    from moodpi.state import Diagnostics, MusicState, QuietHours, Snapshot

    diagnostics = Diagnostics("1", 0.0, 0, 0, 0, 0, 0.0, None, None, 0.0, 0.0)
    snapshot = Snapshot(
        run_state="paused", started_at=0.0, mood=None, probabilities={}, presence=False,
        faces=2, detection=True, music=MusicState("mirror", None, None, "off", None),
        diagnostics=diagnostics, link={}, recent_events=(), camera_in_use=False,
        quiet_hours=QuietHours(("22:00-07:00",), enabled=True, active=True),
    )  # fmt: skip
    state = state_payload(snapshot)
    assert (state["faces"], state["camera_in_use"]) == (2, False)
    assert (state["quiet_hours"], state["quiet_hours_active"]) == (True, True)


def test_music_analysed_sensor_reads_the_library_progress(configs) -> None:
    sensor = configs["library_analysed"]
    assert sensor["entity_category"] == "diagnostic"
    progress = {"tracks": 5000, "analysed": 812, "failed": 3, "running": True, "eta_s": 860.0}
    assert render(sensor["value_template"], {"library": progress}) == "812"
    assert json.loads(render(sensor["json_attributes_template"], {"library": progress})) == progress
    assert render(sensor["value_template"], {"library": None}) == "None"
