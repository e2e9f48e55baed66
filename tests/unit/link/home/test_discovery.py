"""Home Assistant discovery configs: shape, both modes, cleanup, safe node ids."""

from __future__ import annotations

import json
import re

import pytest

from moodpi.link.home import discovery as ha
from moodpi.link.home.entities import entities
from tests.support.home import make_info

DEVICE_KEYS_2024_1 = {
    "identifiers", "connections", "configuration_url", "hw_version", "manufacturer", "model",
    "name", "serial_number", "suggested_area", "sw_version", "via_device",
}  # fmt: skip


ENTITY_COMPONENTS = {"sensor", "binary_sensor", "switch", "select", "number", "button", "event"}


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
