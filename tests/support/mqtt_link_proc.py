"""A process holding one MqttLink, for tests that kill it: prints READY once connected.

Usage: python tests/support/mqtt_link_proc.py HOST PORT KEEPALIVE_S DEVICE_ID
It exits by itself after LIFETIME_S so that a failed test never leaves it behind.
"""

from __future__ import annotations

import sys
import time

from moodpi.config import from_dict
from moodpi.link.mqtt import MqttLink

LIFETIME_S = 60.0
CONNECT_TIMEOUT_S = 10.0


def main(argv: list[str]) -> int:
    host, port, keepalive_s, device_id = argv[1], int(argv[2]), int(argv[3]), argv[4]
    config = from_dict({"mqtt": {"host": host, "port": port, "keepalive": keepalive_s}})
    link = MqttLink(
        config.mqtt,
        device_id=device_id,
        device_name="killable",
        version="0",
        outbox=None,
        on_command=lambda command: None,
        password=None,
    )
    link.start()
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not link.health()["connected"]:
        if time.monotonic() > deadline:
            print("NOT CONNECTED", flush=True)
            return 1
        time.sleep(0.02)
    print("READY", flush=True)
    time.sleep(LIFETIME_S)
    link.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
