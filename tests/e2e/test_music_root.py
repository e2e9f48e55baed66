"""A music folder the home can see fail: missing at start (a disk not mounted yet), then there.

The real daemon on a looping real-time replay, a real Mosquitto, SDL's disk audio: a missing
`music.root` is an `error` event and turns Home Assistant's "Music library" problem sensor on
(its discovered template rendered on the retained state, as Home Assistant does); the folder
appearing with a track clears both within one rescan, and the music starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from musicgen import write_clip
from tests.e2e.test_daemon_mqtt import BASE, DEVICE, start_daemon, stop_daemon
from tests.support.broker import Broker, Observer
from tests.support.pace import seconds

jinja2 = pytest.importorskip("jinja2")
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

RESCAN_S = 10.0  # music.rescan_interval_s's lower bound


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _until(check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + seconds(timeout_s)
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    return check()


def _problem_sensor(observer: Observer) -> str | None:
    """What Home Assistant shows: the discovered template rendered on the last state."""
    config = observer.last(f"homeassistant/binary_sensor/{DEVICE}/music_problem/config")
    state = observer.last(f"{BASE}/state")
    if config is None or state is None:
        return None
    template = config.json()["value_template"]
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(value_json=state.json(), value=state.payload.decode())


def test_a_missing_music_root_is_an_error_and_a_problem_until_the_disk_appears(
    tmp_path: Path, mqtt_broker: Broker, e2e_replay: Path
) -> None:
    root = tmp_path / "usb-disk" / "music"  # not mounted yet
    config = tmp_path / "config.toml"
    config.write_text(
        f'device_id = "{DEVICE}"\n'
        f'[mqtt]\nhost = "{mqtt_broker.host}"\nport = {mqtt_broker.port}\nkeepalive = 5\n'
        f'[music]\nroot = "{root}"\nfade_ms = 200\nrescan_interval_s = {RESCAN_S}\n'
    )
    events = tmp_path / "events.jsonl"
    with Observer(mqtt_broker, [f"{BASE}/#", "homeassistant/#"]) as observer:
        proc = start_daemon(tmp_path, config, e2e_replay, "--realtime", "--loop")
        try:
            error = _until(
                lambda: [e for e in _events(events) if e["type"] == "error"], timeout_s=60
            )
            assert error, "no error event for the missing music folder"
            assert error[0]["component"] == "music" and str(root) in error[0]["message"]
            assert "does not exist" in error[0]["message"]
            assert observer.wait_for(lambda _: _problem_sensor(observer) == "ON", seconds(10))
            problem = observer.last(f"{BASE}/state").json()["library"]["problem"]  # type: ignore[union-attr]
            assert str(root) in problem
            assert not [e for e in _events(events) if e["type"] == "track_started"]

            write_clip(root / "Some Artist" / "Album" / "01 Song.wav", "happy", seconds=4.0)
            appeared = time.monotonic()
            recovered = _until(
                lambda: [e for e in _events(events) if e["type"] == "recovered"],
                timeout_s=RESCAN_S + 15,
            )
            assert recovered and recovered[0]["component"] == "music", _events(events)
            cleared_s = time.monotonic() - appeared
            assert observer.wait_for(lambda _: _problem_sensor(observer) == "OFF", seconds(10))
            assert observer.last(f"{BASE}/state").json()["library"]["problem"] is None  # type: ignore[union-attr]
            started = _until(
                lambda: [e for e in _events(events) if e["type"] == "track_started"],
                timeout_s=30,
            )
            assert started and started[0]["path"].endswith("01 Song.wav")
            assert proc.poll() is None, "the daemon died"
            print(f"cleared {cleared_s:.1f} s after the folder appeared (rescan {RESCAN_S} s)")
        finally:
            assert stop_daemon(proc) == 0
    errors = [e for e in _events(events) if e["type"] == "error"]
    assert len(errors) == 1, errors  # said once per loss, not at every rescan
