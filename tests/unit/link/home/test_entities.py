"""The entities moodpi offers Home Assistant: which, on which platform and topic, and controls
whose payloads the command parser accepts."""

from __future__ import annotations

from moodpi.link.commands import validate_command
from moodpi.link.home import discovery as ha
from moodpi.types import EMOTIONS, POLICIES
from tests.support.home import by_object, make_info


def test_the_expected_entities_exist_with_their_platforms() -> None:
    configs = ha.component_configs(make_info())
    platforms = {topic.split("/")[-2]: topic.split("/")[1] for topic, _ in configs}
    assert platforms == {
        "emotion": "sensor", "presence": "binary_sensor", "now_playing": "sensor",
        "faces": "sensor", "camera_in_use": "binary_sensor", "quiet_hours": "switch",
        "mood_change": "event", "detection": "switch", "policy": "select", "volume": "number",
        "skip": "button", "pause": "button", "resume": "button",
        "audio_problem": "binary_sensor", "music_problem": "binary_sensor",
        "library_analysed": "sensor", "fps": "sensor",
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
