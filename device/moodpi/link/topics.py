"""The topics moodpi publishes and listens on (docs/mqtt.md), below one base topic.

The base defaults to `moodpi/<node id>`: the device id made safe for a discovery topic. Home
Assistant's birth topic `<discovery prefix>/status` is listened on too (moodpi.link.home).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PAYLOAD_ONLINE = "online"
PAYLOAD_OFFLINE = "offline"

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
