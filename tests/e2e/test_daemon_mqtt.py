"""The real daemon against a real Mosquitto: discovery, state, events, will, outages, commands."""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.broker import Broker, Observer
from tests.support.daemon import REPO, daemon_command, daemon_env
from tests.support.pace import seconds

DEVICE = "testpi"
BASE = f"moodpi/{DEVICE}"


def write_config(tmp_path: Path, broker: Broker, music_root: Path | None = None) -> Path:
    music = f'[music]\nroot = "{music_root}"\nfade_ms = 200\n' if music_root else ""
    path = tmp_path / "config.toml"
    path.write_text(
        f'device_id = "{DEVICE}"\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nkeepalive = 5\n'
        f"{music}"
    )
    return path


def start_daemon(tmp_path: Path, config: Path, replay: Path, *extra: str) -> subprocess.Popen[str]:
    events = tmp_path / "events.jsonl"
    return subprocess.Popen(
        daemon_command(
            "run",
            "--config",
            str(config),
            "--source",
            f"replay:{replay / 'frames'}",
            "--events-jsonl",
            str(events),
            *extra,
        ),
        env=daemon_env(tmp_path),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_daemon(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=seconds(15))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def jsonl_events(tmp_path: Path, types: tuple[str, ...] = ("mood", "presence")) -> list[dict]:
    path = tmp_path / "events.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [e for e in lines if e["type"] in types]


def mqtt_seqs(observer: Observer) -> list[int]:
    return [m.json()["seq"] for m in observer.on(f"{BASE}/event")]


def test_discovery_state_and_every_event_reach_the_broker(
    tmp_path: Path, mqtt_broker: Broker, e2e_replay: Path
) -> None:
    with Observer(mqtt_broker, [f"{BASE}/#", "homeassistant/#"]) as observer:
        proc = start_daemon(tmp_path, write_config(tmp_path, mqtt_broker), e2e_replay)
        assert proc.wait(timeout=seconds(120)) == 0, proc.stderr.read() if proc.stderr else ""
        published = jsonl_events(tmp_path)
        assert published, "the replay produced no mood or presence event"
        assert observer.wait_for(lambda _: mqtt_seqs(observer) == [e["seq"] for e in published], 10)
        availability = [m.payload for m in observer.on(f"{BASE}/availability")]
        assert availability[0] == b"online" and availability[-1] == b"offline"
    # A subscriber arriving later gets what is retained: discovery, state, availability; no event.
    with Observer(mqtt_broker, [f"{BASE}/#", "homeassistant/#"]) as late:
        assert late.wait_for(lambda ms: len(ms) >= 12, 5)
        time.sleep(0.5)
        configs = {m.topic for m in late.messages if m.topic.startswith("homeassistant/")}
        assert len(configs) >= 10 and all(m.retain for m in late.messages)
        state = late.last(f"{BASE}/state")
        last_mood = [e for e in published if e["type"] == "mood"][-1]
        assert state is not None and state.json()["emotion"] == last_mood["emotion"]
        assert late.last(f"{BASE}/availability").payload == b"offline"  # type: ignore[union-attr]
        assert not late.on(f"{BASE}/event")


def test_sigkill_turns_availability_offline_by_last_will(
    tmp_path: Path, mqtt_broker: Broker, e2e_replay: Path
) -> None:
    proc = start_daemon(
        tmp_path, write_config(tmp_path, mqtt_broker), e2e_replay, "--realtime", "--loop"
    )
    try:
        with Observer(mqtt_broker, [f"{BASE}/availability"]) as observer:
            assert observer.wait_payload(f"{BASE}/availability", b"online", 60)
            observer.clear()
            killed_at = time.monotonic()
            proc.kill()
            assert observer.wait_payload(f"{BASE}/availability", b"offline", 20)
            offline = observer.last(f"{BASE}/availability")
            assert offline is not None
            print(f"SIGKILL -> offline seen: {offline.at - killed_at:.3f} s")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_two_broker_restarts_mid_replay_lose_no_event_and_keep_order(
    tmp_path: Path, mqtt_broker: Broker, e2e_replay: Path
) -> None:
    observer = Observer(mqtt_broker, [f"{BASE}/event"], client_id="watcher", clean_session=False)
    observer.start()
    proc = start_daemon(
        tmp_path, write_config(tmp_path, mqtt_broker), e2e_replay, "--realtime", "--loop"
    )
    try:
        assert observer.wait_for(lambda _: len(mqtt_seqs(observer)) >= 1, 60)
        for _outage in range(2):  # the daemon keeps classifying, events wait in the outbox
            before_outage = len(jsonl_events(tmp_path))
            mqtt_broker.stop()
            _wait(lambda n=before_outage: len(jsonl_events(tmp_path)) >= n + 2, 40)
            mqtt_broker.start()
            observer.wait_subscribed(10)

        # Everything the daemon published (its JSONL) must arrive, in order, at least once.
        def caught_up(_: object) -> bool:
            wanted = [e["seq"] for e in jsonl_events(tmp_path)]
            return bool(wanted) and _dedup(mqtt_seqs(observer))[: len(wanted)] == wanted

        time.sleep(1.0)
        assert observer.wait_for(caught_up, 40), (jsonl_events(tmp_path), mqtt_seqs(observer))
    finally:
        assert stop_daemon(proc) == 0
        observer.stop()


def _wait(predicate, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds(timeout_s)
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def _dedup(seqs: list[int]) -> list[int]:
    """Subscribers drop re-sent events by seq (delivery is at least once); order must hold."""
    seen: list[int] = []
    for seq in seqs:
        if seq not in seen:
            seen.append(seq)
    return seen


@pytest.mark.slow
def test_commands_switch_the_daemon_and_garbage_changes_nothing(
    tmp_path: Path, mqtt_broker: Broker, e2e_replay: Path, music_root: Path
) -> None:
    config = write_config(tmp_path, mqtt_broker, music_root)
    with Observer(mqtt_broker, []) as publisher:  # left over from some client: must not switch us
        publisher.publish(f"{BASE}/cmd/policy", "iso", retain=True)
    proc = start_daemon(tmp_path, config, e2e_replay, "--realtime", "--loop")
    try:
        with Observer(mqtt_broker, [f"{BASE}/state"]) as observer:
            assert observer.wait_for(lambda _: _state(observer).get("emotion") is not None, 60)
            assert _state(observer)["policy"] == "mirror", "a retained command was obeyed"

            def command(name: str, payload: bytes | str, **kwargs: bool) -> None:
                observer.publish(f"{BASE}/cmd/{name}", payload, **kwargs)

            command("policy", "uplift")
            assert observer.wait_for(lambda _: _state(observer).get("policy") == "uplift", 10)
            command("volume", "30")
            assert observer.wait_for(lambda _: _state(observer).get("volume") == 30, 10)
            command("detection", "OFF")
            assert observer.wait_for(lambda _: _state(observer).get("detection") is False, 10)
            command("detection", "ON")
            assert observer.wait_for(lambda _: _state(observer).get("detection") is True, 10)

            before = {k: _state(observer)[k] for k in ("policy", "volume", "detection")}
            for name, payload in [
                ("policy", "disco"),
                ("volume", "loud"),
                ("volume", "1000"),
                ("detection", "maybe"),
                ("volume", b"\xff\xfe"),
                ("reboot", "now"),
                ("policy", "x" * 1_000_000),
                ("policy/extra", "iso"),
                ("", "on"),
            ]:
                command(name, payload)
            time.sleep(2.0)
            after = {k: _state(observer)[k] for k in ("policy", "volume", "detection")}
            assert after == before
            assert proc.poll() is None, "the daemon died on bad commands"
    finally:
        assert stop_daemon(proc) == 0


def _state(observer: Observer) -> dict:
    last = observer.last(f"{BASE}/state")
    return last.json() if last is not None else {}  # type: ignore[return-value]


@pytest.mark.slow
def test_mood_event_reaches_a_subscriber_within_a_second(
    tmp_path: Path, mqtt_broker: Broker, e2e_replay: Path
) -> None:
    """Wall time from the mood change (the event's `at`) to its arrival at a loopback subscriber."""
    with Observer(mqtt_broker, [f"{BASE}/event"]) as observer:
        wall_minus_mono = time.time() - time.monotonic()
        proc = start_daemon(tmp_path, write_config(tmp_path, mqtt_broker), e2e_replay, "--realtime")
        assert proc.wait(timeout=seconds(60)) == 0
        delays = []
        for seen in observer.on(f"{BASE}/event"):
            event = seen.json()
            published = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()
            delays.append(seen.at + wall_minus_mono - published)
    assert delays
    print(
        f"mood change -> MQTT subscriber: median {statistics.median(delays) * 1000:.1f} ms, "
        f"max {max(delays) * 1000:.1f} ms over {len(delays)} events"
    )
    assert statistics.median(delays) < 1.0
