"""docs/home-assistant.md followed against a real Mosquitto: the broker configured as its step 1
says, the user of step 2 in a password file, the daemon run with step 3's config lines as the
page prints them (only the broker's address and the password file moved here), `moodpi status`
connected (step 4), and the discovery configs, entity ids and availability of step 5."""

from __future__ import annotations

import getpass
import json
import re
import shlex
import signal
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.support.broker import Broker, Observer
from tests.support.daemon import REPO, daemon_command, daemon_env
from tests.support.docs import code_blocks
from tests.support.pace import seconds
from tests.unit.test_docs import home_assistant_ids, slug

DOC = REPO / "docs" / "home-assistant.md"
PASSWORD = "a long random password"


def doc_config() -> str:
    (block,) = [b for b in code_blocks(DOC, "toml") if "[mqtt]" in b]
    return block


def doc_commands() -> list[list[str]]:
    return [
        shlex.split(line.split("#")[0])
        for block in code_blocks(DOC, "sh")
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def doc_entity_ids() -> set[str]:
    step5 = DOC.read_text(encoding="utf-8").split("## 5.", 1)[1]
    return set(re.findall(r"`((?:[a-z_]+)\.moodpi_\w+)`", step5))


class DocBroker(Broker):
    """Mosquitto with step 1's configuration: its listener on a free loopback port instead of
    1883, its password file here, as this user; every other line as the page has it."""

    def _write_config(self) -> Path:
        (block,) = code_blocks(DOC, "conf")
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [f"user {getpass.getuser()}", "log_dest stdout", "log_type all"]
        for line in block.splitlines():
            key = line.split(" ", 1)[0]
            if key == "listener":
                assert line == "listener 1883"
                line = f"listener {self.port} {self.host}"
            elif key == "password_file":
                assert line == "password_file /etc/mosquitto/passwd"
                line = f"password_file {self._write_passwords()}"
            lines.append(line)
        path = self.folder / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path


def test_the_page_is_consistent_with_itself_and_the_config() -> None:
    config = tomllib.loads(doc_config())
    mqtt = config["mqtt"]
    commands = doc_commands()
    # step 2 creates the user and the file the broker reads; step 3 the file moodpi reads
    assert ["sudo", "mosquitto_passwd", "-c", "/etc/mosquitto/passwd", mqtt["username"]] in commands
    assert [
        *("sudo", "install", "-m", "0640", "-o", "root", "-g", "moodpi", "/dev/null"),
        mqtt["password_file"],
    ] in commands
    assert mqtt["password_file"] == "/etc/moodpi/mqtt-password"
    assert mqtt["port"] == 1883 and "listener 1883" in code_blocks(DOC, "conf")[0]
    # the ids listed are those discovery makes for this device_name
    assert doc_entity_ids() == home_assistant_ids(config["device_name"])


@pytest.mark.slow
def test_the_page_brings_the_device_to_a_real_broker(tmp_path: Path, e2e_replay: Path) -> None:
    text = doc_config()
    config = tomllib.loads(text)
    device_id, username = config["device_id"], config["mqtt"]["username"]
    broker = DocBroker(tmp_path / "broker", users={username: PASSWORD}).start()
    try:
        password_file = tmp_path / "mqtt-password"
        password_file.write_text(PASSWORD + "\n")  # "the password on one line"
        moved = {
            "host": f'"{broker.host}"',
            "port": str(broker.port),
            "password_file": f'"{password_file}"',
        }
        ours = text
        for key, value in moved.items():
            ours, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", ours, flags=re.MULTILINE)
            assert n == 1, key
        config_file = tmp_path / "config.toml"
        config_file.write_text(ours)
        _device_appears(tmp_path, broker, config_file, e2e_replay, device_id, config["device_name"])
    finally:
        broker.kill()


def _device_appears(
    tmp_path: Path, broker: Broker, config: Path, replay: Path, device_id: str, name: str
) -> None:
    availability = f"moodpi/{device_id}/availability"
    subscriptions = next(c for c in doc_commands() if c[0] == "mosquitto_sub")
    topics = [subscriptions[i + 1] for i, arg in enumerate(subscriptions) if arg == "-t"]
    with Observer(broker, ["homeassistant/#", f"moodpi/{device_id}/#"]) as seen:
        proc = subprocess.Popen(
            daemon_command(
                "run", "--config", str(config), "--source", f"replay:{replay / 'frames'}",
                "--realtime", "--loop",
            ),
            env=daemon_env(tmp_path),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            wanted = doc_entity_ids()
            assert seen.wait_for(lambda ms: _ids(ms, name) >= wanted, seconds(60)), wanted - _ids(
                seen.messages, name
            )
            assert seen.wait_payload(availability, b"online", seconds(10))
            assert _status_says_connected(tmp_path, config)  # step 4
            with Observer(broker, topics) as late:  # the page's mosquitto_sub, while it runs
                assert late.wait_for(
                    lambda ms: (
                        _ids(ms, name) == wanted
                        and any(m.topic == availability and m.payload == b"online" for m in ms)
                    ),
                    seconds(10),
                )
                printed = list(late.messages)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=seconds(15))
        assert code == 0, proc.stderr.read()[-3000:] if proc.stderr else ""
        assert seen.wait_payload(availability, b"offline", seconds(10))  # entities unavailable
    configs = [m for m in seen.messages if m.topic.startswith("homeassistant/")]
    assert _ids(configs, name) == doc_entity_ids()  # these, and no others
    for message in configs:
        payload = json.loads(message.payload)
        assert payload["device"]["name"] == name
        assert payload["availability"][0]["topic"] == availability
    # what the page's mosquitto_sub printed: one retained config per entity, and `online`
    assert all(m.retain for m in printed)
    assert len([m for m in printed if m.topic.endswith("/config")]) == len(doc_entity_ids())


def _ids(messages: list, device_name: str) -> set[str]:
    """The entity ids Home Assistant would give the retained discovery configs seen."""
    ids = set()
    for m in messages:
        parts = m.topic.split("/")
        if len(parts) == 5 and parts[0] == "homeassistant" and parts[-1] == "config" and m.payload:
            ids.add(f"{parts[1]}.{slug(device_name + ' ' + json.loads(m.payload)['name'])}")
    return ids


def _status_says_connected(tmp_path: Path, config: Path) -> bool:
    for _ in range(20):  # the status file is rewritten every second
        status = subprocess.run(
            daemon_command("status", "--config", str(config)),
            env=daemon_env(tmp_path),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=seconds(60),
        )
        if "mqtt:           connected" in status.stdout:
            return True
    return False
