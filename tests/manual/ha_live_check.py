"""Manual check against a real Home Assistant: do our discovery payloads make working entities?

Not collected by pytest (it needs a Home Assistant install, minutes and a lot of disk). Set one
up in its own venv, then run this with the project's Python:

    python3.11 -m venv /tmp/ha2024 && /tmp/ha2024/bin/pip install homeassistant==2024.1.6 \
        paho-mqtt==1.6.1 janus==1.0.0 aiohttp_cors==0.7.0 aiohttp-fast-url-dispatcher==0.3.0 \
        aiohttp-zlib-ng==0.1.3
    .venv/bin/python -m tests.manual.ha_live_check --hass /tmp/ha2024/bin/hass --mode component

(For a current release use Python 3.13, `pip install homeassistant paho-mqtt
home-assistant-frontend==<the version its frontend manifest pins>`, and also `--mode device`.)

It starts mosquitto and Home Assistant (MQTT config entry pre-written, a tiny custom
integration that dumps all states to a file and runs service calls from a file), runs an
MqttLink, and checks: all 12 entities appear with the right states; values outside the options
become unknown; a mood event fires the event entity; switch/select/number/buttons in Home
Assistant reach the link as commands; stop makes the entities unavailable; cleanup removes them;
and Home Assistant logged no warning about any of it. Prints RESULT: OK or exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moodpi.cli.mqtt import cleanup
from moodpi.config import from_dict
from moodpi.link.commands import Command
from moodpi.link.mqtt import MqttLink
from moodpi.types import EMOTIONS
from tests.support.broker import Broker

REPO = Path(__file__).resolve().parents[2]

DUMPER_MANIFEST = {
    "domain": "dumpstates", "name": "Dump states", "version": "0.0.1", "documentation": "https://example.invalid",
    "codeowners": [], "iot_class": "local_push", "requirements": [], "dependencies": [],
}  # fmt: skip
DUMPER = """
import json, os
from datetime import timedelta
from homeassistant.helpers.event import async_track_time_interval

async def async_setup(hass, config):
    out, actions = hass.config.path("states.json"), hass.config.path("actions.json")

    def write(text):
        with open(out + ".tmp", "w") as f:
            f.write(text)
        os.replace(out + ".tmp", out)

    def take_actions():
        if not os.path.exists(actions):
            return []
        with open(actions) as f:
            todo = json.load(f)
        os.remove(actions)
        return todo

    async def tick(now=None):
        for call in await hass.async_add_executor_job(take_actions):
            domain, service = call["service"].split(".")
            await hass.services.async_call(domain, service, call["data"], blocking=True)
        states = {s.entity_id: {"state": s.state, "attributes": dict(s.attributes)}
                  for s in hass.states.async_all()}
        await hass.async_add_executor_job(write, json.dumps(states, default=str))

    async_track_time_interval(hass, tick, timedelta(seconds=0.5))
    return True
"""
ENTITIES = [
    "sensor.moodpi_emotion", "binary_sensor.moodpi_presence", "sensor.moodpi_now_playing",
    "event.moodpi_mood_change", "switch.moodpi_detection", "select.moodpi_music_policy",
    "number.moodpi_volume", "button.moodpi_skip_track", "button.moodpi_pause_music",
    "button.moodpi_resume_music", "sensor.moodpi_frame_rate", "sensor.moodpi_cpu_temperature",
    "binary_sensor.moodpi_audio_output",
]  # fmt: skip


def write_config(folder: Path, broker: Broker) -> None:
    (folder / ".storage").mkdir(parents=True)
    component = folder / "custom_components" / "dumpstates"
    component.mkdir(parents=True)
    (component / "manifest.json").write_text(json.dumps(DUMPER_MANIFEST))
    (component / "__init__.py").write_text(DUMPER)
    (folder / "configuration.yaml").write_text(
        "homeassistant:\n  name: t\n  unit_system: metric\n  time_zone: UTC\n"
        "  latitude: 0\n  longitude: 0\n  elevation: 0\n"
        "logger:\n  default: warning\n  logs:\n    homeassistant.components.mqtt: info\n"
        "dumpstates:\n"
    )
    entry = {
        "entry_id": "mqtt1", "version": 1, "minor_version": 1, "domain": "mqtt", "title": "mqtt",
        "data": {"broker": broker.host, "port": broker.port, "discovery": True}, "options": {},
        "pref_disable_new_entities": False, "pref_disable_polling": False, "source": "user",
        "unique_id": None, "disabled_by": None,
    }  # fmt: skip
    storage = {
        "version": 1,
        "minor_version": 1,
        "key": "core.config_entries",
        "data": {"entries": [entry]},
    }
    (folder / ".storage" / "core.config_entries").write_text(json.dumps(storage))


class Check:
    def __init__(self, states_path: Path) -> None:
        self.states_path = states_path

    def states(self) -> dict[str, Any]:
        try:
            return json.loads(self.states_path.read_text())
        except (OSError, ValueError):
            return {}

    def wait(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout_s: float = 30.0
    ) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = self.states()
            try:
                if predicate(states):
                    return states
            except KeyError:
                pass
            time.sleep(0.3)
        mine = {k: v for k, v in self.states().items() if "moodpi" in k}
        raise SystemExit(f"TIMEOUT waiting for {what}:\n{json.dumps(mine, indent=1)[:4000]}")


def run(hass_bin: str, mode: str, work: Path) -> None:
    broker = Broker(work / "broker").start()
    config_dir = work / "config"
    write_config(config_dir, broker)
    log_path = work / "hass.log"
    check = Check(config_dir / "states.json")
    commands: list[Command] = []
    config = from_dict({"mqtt": {"host": broker.host, "port": broker.port, "discovery": mode}})
    link = MqttLink(
        config.mqtt, device_id="livingroom", device_name="moodpi", version="0.1.0", outbox=None,
        on_command=commands.append, password=None,
    )  # fmt: skip
    with open(log_path, "w") as log:
        hass = subprocess.Popen(
            [hass_bin, "-c", str(config_dir), "--skip-pip"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        check.wait(lambda s: check.states_path.exists(), "Home Assistant to start", 240)
        link.publish_state({
            "emotion": "happy", "confidence": 0.8, "probabilities": {"happy": 0.8, "sad": 0.2},
            "presence": True, "since": 12.0, "detection": True, "policy": "uplift", "volume": 55,
            "player": "playing", "audio": False,
            "now_playing": {"title": "Artist – Song", "category": "calming", "path": "/m/a.ogg"},
        })  # fmt: skip
        link.publish_diagnostics({"fps": 9.5, "cpu_temp_c": 48.2})
        link.start()
        s = check.wait(
            lambda s: (
                all(e in s for e in ENTITIES) and s["sensor.moodpi_emotion"]["state"] == "happy"
            ),
            "entities",
        )
        for entity in ENTITIES:
            print(f"  {entity:34s} {s[entity]['state']!r}")
        expect = {
            "binary_sensor.moodpi_presence": "on", "switch.moodpi_detection": "on",
            "select.moodpi_music_policy": "uplift", "number.moodpi_volume": "55",
            "sensor.moodpi_now_playing": "Artist – Song", "sensor.moodpi_frame_rate": "9.5",
            "sensor.moodpi_cpu_temperature": "48.2", "binary_sensor.moodpi_audio_output": "on",
        }  # fmt: skip
        for entity, state in expect.items():
            assert s[entity]["state"].removesuffix(".0") == state, (entity, s[entity])
        assert s["sensor.moodpi_emotion"]["attributes"]["confidence"] == 0.8
        print("  emotion options:", s["sensor.moodpi_emotion"]["attributes"].get("options"))

        link.publish_state(
            {"emotion": "bored", "policy": "jazz", "volume": None, "now_playing": None}
        )
        # Home Assistant before 2024.x (2024.1 included) shows a text sensor's "None" literally.
        s = check.wait(
            lambda s: s["sensor.moodpi_emotion"]["state"] in ("unknown", "None"), "unknown"
        )
        time.sleep(1.0)
        s = check.states()
        print("  out of options:", {e: s[e]["state"] for e in ENTITIES[:7]})

        link.publish_event(
            {"type": "presence", "seq": 1, "t": 1.0, "at": "2025-01-01T00:00:00Z", "present": True}
        )
        link.publish_event(
            {
                "type": "mood",
                "seq": 2,
                "t": 2.0,
                "at": "2025-01-01T00:00:01Z",
                "emotion": "sad",
                "confidence": 0.7,
            }
        )
        s = check.wait(
            lambda s: s["event.moodpi_mood_change"]["attributes"].get("event_type") == "sad",
            "event",
        )
        assert s["event.moodpi_mood_change"]["attributes"]["event_types"] == list(EMOTIONS)
        print("  event:", s["event.moodpi_mood_change"]["attributes"])

        calls = [
            ("switch.turn_off", {"entity_id": "switch.moodpi_detection"}),
            ("switch.turn_on", {"entity_id": "switch.moodpi_detection"}),
            ("select.select_option", {"entity_id": "select.moodpi_music_policy", "option": "iso"}),
            ("number.set_value", {"entity_id": "number.moodpi_volume", "value": 35}),
            ("button.press", {"entity_id": "button.moodpi_skip_track"}),
            ("button.press", {"entity_id": "button.moodpi_pause_music"}),
            ("button.press", {"entity_id": "button.moodpi_resume_music"}),
        ]
        (config_dir / "actions.json").write_text(
            json.dumps([{"service": c, "data": d} for c, d in calls])
        )
        deadline = time.monotonic() + 20
        while len(commands) < len(calls) and time.monotonic() < deadline:
            time.sleep(0.2)
        got = [(c.name, c.value) for c in commands]
        print("  commands from Home Assistant:", got)
        assert got == [
            ("detection", False), ("detection", True), ("policy", "iso"), ("volume", 35),
            ("skip", None), ("pause", None), ("resume", None),
        ]  # fmt: skip

        link.stop()
        check.wait(lambda s: s["sensor.moodpi_emotion"]["state"] == "unavailable", "unavailable")
        print("  after stop: unavailable")
        assert cleanup(config.mqtt, link.info, None) == 0
        check.wait(lambda s: not any("moodpi" in e for e in s), "entities removed")
        print("  after cleanup: entities removed")
    finally:
        link.stop()
        hass.terminate()
        try:
            hass.wait(30)
        except subprocess.TimeoutExpired:
            hass.kill()
        broker.kill()
    noise = (
        "dumpstates",
        "Skipping pip",
        "turbojpeg",
        "ffmpeg",
        "FFmpeg",
        "zlib",
        "Zeroconf",
        "numpy",
    )
    warnings = [
        line for line in log_path.read_text().splitlines()
        if ("WARNING" in line or "ERROR" in line) and not any(n in line for n in noise)
    ]  # fmt: skip
    for line in warnings:
        print("  HA:", line[:300])
    assert not warnings, f"{len(warnings)} warnings or errors in Home Assistant's log"
    print("RESULT: OK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--hass", required=True, help="the hass executable of a Home Assistant venv"
    )
    parser.add_argument("--mode", default="component", choices=("component", "device"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodpi-ha-") as work:
        run(args.hass, args.mode, Path(work))


if __name__ == "__main__":
    main()
