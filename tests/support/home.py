"""A device as Home Assistant's discovery sees it in tests: its info, and its component configs
by object id."""

from __future__ import annotations

from typing import Any

from moodpi.link.home.discovery import component_configs
from moodpi.link.home.entities import DeviceInfo
from moodpi.link.topics import Topics, default_base_topic


def make_info(device_id: str = "kitchen_pi", base: str | None = None) -> DeviceInfo:
    topics = Topics(base or default_base_topic(device_id), "homeassistant")
    return DeviceInfo(device_id, "Kitchen moodpi", "1.2.3", topics, qos=1)


def by_object(configs: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {topic.split("/")[-2]: payload for topic, payload in configs}


def configs_by_object() -> dict[str, dict[str, Any]]:
    """The kitchen_pi's component configs, by object id."""
    return by_object(component_configs(make_info()))
