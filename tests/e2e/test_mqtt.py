"""The MQTT link against a real Mosquitto broker: discovery, availability, outbox, commands, TLS."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodpi.cli.mqtt import cli_mqtt
from moodpi.config import ConfigError, from_dict
from moodpi.link import discovery as ha
from moodpi.link.client import read_password
from moodpi.link.commands import MAX_COMMAND_BYTES, Command, TokenBucket, parse_command
from moodpi.link.mqtt import MqttLink
from moodpi.link.outbox import MemoryOutbox
from moodpi.types import COMMAND_NAMES, POLICIES
from tests.support.clock import FakeClock
from tests.support.daemon import REPO

# before the import below: it is a plugin too
pytest.register_assert_rewrite("tests.support.broker")
from tests.support.broker import PASSWORD, USERNAME, Broker, BrokerFactory, Observer, Seen  # noqa: E402

pytestmark = pytest.mark.broker

DEVICE = "testpi"
BASE = f"moodpi/{DEVICE}"
TOPICS = ha.Topics(BASE)
OUTAGE_S = float(os.environ.get("MOODPI_TEST_OUTAGE_S", "1.5"))  # the report uses 30


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Harness:
    """A started MqttLink plus what it handed over."""

    def __init__(self, link: MqttLink, outbox: MemoryOutbox, commands: list[Command]) -> None:
        self.link, self.outbox, self.commands = link, outbox, commands
        self._next_seq = 1

    def emit(self, count: int = 1, kind: str = "mood") -> list[int]:
        seqs = []
        for _ in range(count):
            seq, self._next_seq = self._next_seq, self._next_seq + 1
            event = {"type": kind, "seq": seq, "t": seq * 0.1, "at": "2025-01-01T00:00:00.000Z"}
            event |= (
                {"emotion": "happy", "confidence": 0.9} if kind == "mood" else {"present": True}
            )
            self.outbox.enqueue(event)
            seqs.append(seq)
        self.link.events_pending()
        return seqs

    def connected(self, timeout_s: float = 5.0) -> bool:
        """Connected and subscribed: a command published after this reaches the link."""
        return wait_until(lambda: self.link.health()["listening"], timeout_s)


@pytest.fixture
def make_link() -> Iterator[Callable[..., Harness]]:
    harnesses: list[Harness] = []

    def make(
        broker: Broker,
        *,
        start: bool = True,
        password: str | None = None,
        outbox: MemoryOutbox | None = None,
        on_command: Callable[[Command], None] | None = None,
        **mqtt: Any,
    ) -> Harness:
        config = from_dict(
            {"mqtt": {"host": broker.host, "port": broker.port, "keepalive": 5, **mqtt}}
        )
        commands: list[Command] = []
        box = outbox if outbox is not None else MemoryOutbox()
        link = MqttLink(
            config.mqtt,
            device_id=DEVICE,
            device_name="Test moodpi",
            version="9.9.9",
            outbox=box,
            on_command=on_command or commands.append,
            password=password,
            rediscovery_delay_s=(0.05, 0.2),
        )
        harness = Harness(link, box, commands)
        harnesses.append(harness)
        if start:
            link.start()
            if "username" not in mqtt:
                assert harness.connected(), link.health()
        return harness

    yield make
    for harness in harnesses:
        harness.link.stop()


def event_seqs(observer: Observer) -> list[int]:
    return [json.loads(m.payload)["seq"] for m in observer.on(TOPICS.event)]


# ---------------------------------------------------------------------------------------------
# Discovery, availability, retained state


def test_discovery_availability_and_state_are_retained(mqtt_broker: Broker, make_link) -> None:
    h = make_link(mqtt_broker)
    state = {
        "emotion": "happy",
        "confidence": 0.81,
        "presence": True,
        "volume": 80,
        "nan": float("nan"),
    }
    h.link.publish_state(state)
    configs = ha.component_configs(h.link.info)
    wanted = {t for t, _ in configs} | {TOPICS.availability, TOPICS.state}
    with Observer(mqtt_broker, ["homeassistant/#", f"{BASE}/#"]) as early:  # until all went out
        assert early.wait_for(lambda ms: wanted <= {m.topic for m in ms}, 5.0)
    # A client that connects afterwards gets everything from the broker's retained store.
    with Observer(mqtt_broker, ["homeassistant/#", f"{BASE}/#"]) as late:
        assert late.wait_for(lambda ms: wanted <= {m.topic for m in ms}, 5.0)

        def retained(topic: str) -> list[Seen]:
            return [m for m in late.on(topic) if m.retain]

        for topic, payload in configs:
            assert [json.loads(m.payload) for m in retained(topic)] == [payload], topic
        assert [m.payload for m in retained(TOPICS.availability)] == [b"online"]
        assert [m.json() for m in retained(TOPICS.state)] == [
            {**state, "nan": None}
        ]  # NaN: not JSON
        assert late.on(TOPICS.event) == []  # events are never retained


def test_device_discovery_mode_publishes_one_config(mqtt_broker: Broker, make_link) -> None:
    h = make_link(mqtt_broker, discovery="device")
    with Observer(mqtt_broker, ["homeassistant/#"]) as late:
        assert late.wait_for(lambda ms: len(ms) >= 1, 5.0)
        time.sleep(0.2)  # anything else retained would have arrived with it
        assert [m.topic for m in late.messages] == [f"homeassistant/device/{DEVICE}/config"]
        assert set(late.messages[0].json()["cmps"]) == {
            e.object_id for e in ha.entities(h.link.info)
        }


def test_home_assistant_online_gets_discovery_availability_and_state_again(
    mqtt_broker, make_link
) -> None:
    h = make_link(mqtt_broker)
    h.link.publish_state({"emotion": "sad"})
    with Observer(mqtt_broker, ["homeassistant/+/testpi/#", f"{BASE}/#"]) as observer:
        assert observer.wait_for(lambda ms: len(ms) >= 14, 5.0)
        observer.clear()
        observer.publish(TOPICS.ha_status, "online")
        configs = ha.component_configs(h.link.info)
        wanted = {t for t, _ in configs} | {TOPICS.availability, TOPICS.state}
        assert observer.wait_for(lambda ms: wanted <= {m.topic for m in ms}, 5.0)
        assert observer.last(TOPICS.state).json() == {"emotion": "sad"}


def test_clean_stop_leaves_offline_retained(mqtt_broker: Broker, make_link) -> None:
    h = make_link(mqtt_broker)
    with Observer(mqtt_broker, [TOPICS.availability]) as observer:
        assert observer.wait_payload(TOPICS.availability, b"online")
        started = time.monotonic()
        h.link.stop()
        assert time.monotonic() - started < 3.0
        assert observer.wait_payload(TOPICS.availability, b"offline")
    with Observer(mqtt_broker, [TOPICS.availability]) as late:
        assert late.wait_payload(TOPICS.availability, b"offline")
        assert late.last(TOPICS.availability).retain


def test_sigkill_turns_availability_offline(mqtt_broker: Broker) -> None:
    keepalive_s = 5
    device = "killme"
    availability = f"moodpi/{device}/availability"
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "support" / "mqtt_link_proc.py"), mqtt_broker.host,
         str(mqtt_broker.port), str(keepalive_s), device],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "device")},
    )  # fmt: skip
    try:
        with Observer(mqtt_broker, [availability]) as observer:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "READY", (
                proc.stderr
            )
            assert observer.wait_payload(availability, b"online")
            killed_at = time.monotonic()
            proc.send_signal(signal.SIGKILL)
            # The kernel closes the dead process's socket, so the broker sends the will at once;
            # a frozen host would take 1.5 x keepalive.
            assert observer.wait_payload(availability, b"offline", timeout_s=1.5 * keepalive_s + 2)
            offline = observer.last(availability)
            print(f"\nSIGKILL -> offline seen by a subscriber: {offline.at - killed_at:.3f} s")
    finally:
        proc.kill()
        proc.wait(timeout=5)


# ---------------------------------------------------------------------------------------------
# Events: in order, at least once, nothing lost while the broker is away


def test_events_queued_before_start_are_delivered_in_order_and_acked(
    mqtt_broker, make_link
) -> None:
    outbox = MemoryOutbox()
    h = make_link(mqtt_broker, start=False, outbox=outbox)
    seqs = h.emit(40)  # undelivered events of an earlier run, still in the journal
    with Observer(mqtt_broker, [TOPICS.event]) as observer:
        h.link.start()
        assert observer.wait_for(lambda ms: len(ms) >= 40, 10.0), h.link.health()
        assert event_seqs(observer) == seqs
        assert wait_until(lambda: len(outbox) == 0), outbox.pending()
        assert all(not m.retain for m in observer.messages)
    health = h.link.health()
    assert health["events_acked"] == 40 and health["events_in_flight"] == 0


def test_broker_restart_loses_no_event_and_keeps_order(
    broker_factory: BrokerFactory, make_link
) -> None:
    # Persistence keeps the observer's session over the restart, so it misses nothing either.
    broker = broker_factory(persistence=True)
    h = make_link(broker)
    observer = Observer(broker, [TOPICS.event], client_id="observer", clean_session=False).start()
    try:
        before = h.emit(5)
        assert observer.wait_for(lambda ms: len(ms) >= 5, 5.0)
        broker.stop()
        assert wait_until(lambda: not h.link.health()["connected"], 5.0)
        during = h.emit(10) + h.emit(2, kind="presence")
        time.sleep(OUTAGE_S)
        during += h.emit(3)
        assert h.link.health()["events_sent"] == 5  # nothing published while away
        broker.start()
        restarted = time.monotonic()
        expected = before + during
        assert observer.wait_for(
            lambda ms: len({json.loads(m.payload)["seq"] for m in ms}) >= len(expected), 20.0
        )
        delivered_s = time.monotonic() - restarted
        seqs = event_seqs(observer)
        first_seen = list(dict.fromkeys(seqs))
        assert first_seen == expected
        duplicates = sorted({s for s in seqs if seqs.count(s) > 1})
        print(
            f"\nbroker outage {OUTAGE_S:.1f} s: {len(during)} events queued while away, "
            f"{len(first_seen)}/{len(expected)} delivered in order, duplicates {duplicates}, "
            f"all in {delivered_s:.2f} s after the broker came back "
            f"(reconnect backoff; link published {h.link.health()['events_sent']} events once each)"
        )
        assert wait_until(lambda: len(h.outbox) == 0)
    finally:
        observer.stop()


def test_publish_event_without_outbox_delivers_from_memory(mqtt_broker: Broker) -> None:
    config = from_dict({"mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port}})
    link = MqttLink(
        config.mqtt, device_id=DEVICE, device_name="x", version="0", outbox=None,
        on_command=lambda c: None, password=None,
    )  # fmt: skip
    with Observer(mqtt_broker, [TOPICS.event]) as observer:
        link.start()
        try:
            assert wait_until(lambda: link.health()["connected"])
            latencies_s = []
            for seq in range(1, 21):  # one at a time: the latency of a single mood change
                sent_at = time.monotonic()
                link.publish_event(
                    {"type": "mood", "seq": seq, "emotion": "fear", "confidence": 0.6}
                )
                assert observer.wait_for(lambda ms, n=seq: len(ms) >= n, 5.0)
                latencies_s.append(observer.messages[-1].at - sent_at)
            assert event_seqs(observer) == list(range(1, 21))
            latencies_s.sort()
            print(
                f"\nevent handed to the link -> subscriber on loopback: median "
                f"{latencies_s[10] * 1000:.1f} ms, max {latencies_s[-1] * 1000:.1f} ms (20 events)"
            )
        finally:
            link.stop()


# ---------------------------------------------------------------------------------------------
# Commands


def test_each_command_works(mqtt_broker: Broker, make_link) -> None:
    h = make_link(mqtt_broker)
    sent = [
        ("detection", "OFF", Command("detection", False)),
        ("detection", "ON", Command("detection", True)),
        ("policy", "uplift", Command("policy", "uplift")),
        ("policy", '"iso"', Command("policy", "iso")),
        ("volume", "42", Command("volume", 42)),
        ("volume", "17.6", Command("volume", 18)),
        ("pause", "PRESS", Command("pause")),
        ("resume", "", Command("resume")),
        ("skip", "PRESS", Command("skip")),
    ]
    with Observer(mqtt_broker, []) as publisher:
        for name, payload, _ in sent:
            publisher.publish(TOPICS.command(name), payload)
        assert wait_until(lambda: len(h.commands) >= len(sent))
    assert h.commands == [command for _, _, command in sent]
    assert h.link.health()["commands_accepted"] == len(sent)


def test_malformed_commands_change_nothing_and_crash_nothing(
    mqtt_broker: Broker, make_link
) -> None:
    with Observer(mqtt_broker, []) as attacker:
        # Retained commands, waiting on the broker before the device connects: a replay of them
        # must not switch the device.
        attacker.publish(TOPICS.command("detection"), "OFF", retain=True)
        attacker.publish(TOPICS.command("skip"), "PRESS", retain=True)
        h = make_link(mqtt_broker)
        huge = b"x" * (1024 * 1024)
        barrage: list[tuple[str, bytes]] = [
            ("detection", b"maybe"), ("detection", b'{"on": true'), ("detection", b"\xff\xfe"),
            ("policy", b"jazz"), ("policy", b"42"), ("policy", b"[\"mirror\"]"),
            ("volume", b"loud"), ("volume", b"101"), ("volume", b"-1"), ("volume", b"nan"),
            ("volume", b"1e2"), ("volume", b"true"), ("volume", b"{}"),
            ("skip", b"please"), ("pause", b"{\"x\": 1}"),
            ("volume", b"5" * (MAX_COMMAND_BYTES + 1)),
            *((name, huge) for name in COMMAND_NAMES),
            ("reboot", b"now"), ("volume/extra", b"5"), ("", b"ON"), ("DETECTION", b"ON"),
        ]  # fmt: skip
        for name, payload in barrage:
            attacker.publish(f"{TOPICS.command_prefix}{name}", payload)
        expected_rejections = len(barrage) + 2  # plus the two retained ones
        assert wait_until(lambda: h.link.health()["commands_rejected"] >= expected_rejections, 10.0)
        health = h.link.health()
        assert h.commands == []
        assert health["connected"] and health["callback_errors"] == 0 and health["reconnects"] == 0
        # Still listening: a good command goes through.
        attacker.publish(TOPICS.command("volume"), "30")
        assert wait_until(lambda: h.commands == [Command("volume", 30)])


def test_commands_are_rate_limited() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(5)] == [True, True, True, False, False]
    clock.now += 0.5  # one token back
    assert [bucket.take() for _ in range(2)] == [True, False]
    clock.now += 100.0  # refills only up to the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_link_drops_commands_over_the_rate(mqtt_broker: Broker, make_link) -> None:
    h = make_link(mqtt_broker)
    h.link._bucket = TokenBucket(rate_per_s=0.001, burst=2)  # effectively no refill in this test
    with Observer(mqtt_broker, []) as publisher:
        for _ in range(5):
            publisher.publish(TOPICS.command("skip"), "PRESS")
        assert wait_until(lambda: h.link.health()["commands_rate_limited"] == 3)
    assert h.commands == [Command("skip"), Command("skip")]


def test_an_exception_in_the_command_handler_does_not_kill_the_network_thread(
    mqtt_broker, make_link
) -> None:
    seen: list[Command] = []

    def handler(command: Command) -> None:
        seen.append(command)
        if len(seen) == 1:
            raise RuntimeError("boom")

    h = make_link(mqtt_broker, on_command=handler)
    with Observer(mqtt_broker, []) as publisher:
        publisher.publish(TOPICS.command("skip"), "")
        publisher.publish(TOPICS.command("pause"), "")
        assert wait_until(lambda: len(seen) == 2)
    health = h.link.health()
    assert health["callback_errors"] == 1 and health["connected"]
    h.emit(1)
    assert wait_until(lambda: h.link.health()["events_acked"] == 1)


# ---------------------------------------------------------------------------------------------
# Security: TLS, passwords, clear errors


def test_tls_with_generated_ca_and_password(mqtt_broker_tls: Broker, make_link) -> None:
    broker = mqtt_broker_tls
    h = make_link(broker, username=USERNAME, password=PASSWORD, tls_ca=str(broker.tls.ca))
    assert h.connected(), h.link.health()
    with Observer(broker, [f"{BASE}/#"]) as observer:
        assert observer.wait_payload(TOPICS.availability, b"online")
        h.emit(2)
        assert observer.wait_for(lambda ms: len([m for m in ms if m.topic == TOPICS.event]) >= 2)


def test_a_refused_command_subscription_is_reported(mqtt_broker: Broker, make_link) -> None:
    # Brokers whose ACL denies reading answer the SUBACK with a failure code (mosquitto 2.0.11,
    # here, grants and then filters instead), so that answer is fed to the link as paho would.
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    h = make_link(mqtt_broker)
    assert h.link.health()["listening"]
    refused = [ReasonCode(PacketTypes.SUBACK, identifier=0x87)] * 2  # not authorized
    h.link._handle_subscribe(None, None, h.link._subscribe_mid, refused, None)
    health = h.link.health()
    assert health["connected"] and not health["listening"]
    assert "refused the command subscription" in health["last_error"]
    assert "ACL" in health["last_error"]


def test_wrong_password_is_reported_clearly_and_never_logged(
    mqtt_broker_auth, make_link, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-123"
    h = make_link(mqtt_broker_auth, username=USERNAME, password=wrong)
    assert wait_until(lambda: h.link.health()["auth_failed"], 5.0), h.link.health()
    health = h.link.health()
    assert not health["connected"]
    # mosquitto answers "not authorized", others "bad user name or password": say what it means.
    assert "rejected the username or password" in health["last_error"]
    assert "mqtt.password_file" in health["last_error"]
    errors = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("moodpi.link.mqtt")
    ]
    assert len(errors) == 1, "logged once, not at every retry"
    assert "rejected the username or password" in errors[0].getMessage()
    assert wrong not in caplog.text


def test_no_broker_is_reported_and_stop_stays_bounded(make_link, tmp_path: Path) -> None:
    from tests.support.broker import Broker as _Broker
    from tests.support.broker import free_port

    absent = _Broker(tmp_path / "absent")  # configured, never started
    absent.port = free_port()
    h = make_link(absent, start=False)
    h.link.start()
    assert wait_until(lambda: h.link.health()["last_error"] is not None, 5.0)
    assert "cannot connect" in h.link.health()["last_error"]
    h.emit(3)
    h.link.publish_state({"emotion": "happy"})  # never blocks, never raises
    started = time.monotonic()
    h.link.stop()
    assert time.monotonic() - started < 5.0
    assert len(h.outbox) == 3  # kept for the next run


def test_read_password(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert read_password(from_dict({"mqtt": {"password_file": str(secret)}}).mqtt, {}) == "s3cret"
    assert read_password(from_dict({}).mqtt, {"MOODPI_MQTT_PASSWORD": "envpw"}) == "envpw"
    assert read_password(from_dict({}).mqtt, {}) is None
    with pytest.raises(ConfigError, match=r"mqtt\.password_file"):
        read_password(from_dict({"mqtt": {"password_file": str(tmp_path / "missing")}}).mqtt, {})


def test_bad_base_topic_is_a_config_error() -> None:
    # Refused where the config is validated (issue 18), so `config check` says so too.
    with pytest.raises(ConfigError, match=r"mqtt\.base_topic"):
        from_dict({"mqtt": {"host": "x", "base_topic": "moodpi/#"}})


# ---------------------------------------------------------------------------------------------
# moodpi mqtt cleanup


# one retained config per entity, or one for the whole device
COMPONENT_CONFIGS = len(
    ha.entities(ha.DeviceInfo(DEVICE, DEVICE, "0", ha.Topics(ha.default_base_topic(DEVICE))))
)


@pytest.mark.parametrize(("mode", "configs"), [("component", COMPONENT_CONFIGS), ("device", 1)])
def test_cleanup_removes_the_retained_discovery_configs(
    mqtt_broker: Broker, make_link, tmp_path: Path, capsys, mode: str, configs: int
) -> None:
    h = make_link(mqtt_broker, discovery=mode)
    with Observer(mqtt_broker, ["homeassistant/#"]) as before:
        assert before.wait_for(lambda ms: len(ms) >= configs, 5.0)
    h.link.stop()  # the configs stay retained after the daemon is gone
    with Observer(mqtt_broker, ["homeassistant/#"]) as other:  # another device's config stays
        other.publish("homeassistant/sensor/otherpi/x/config", "{}", retain=True)
    config = tmp_path / "moodpi.toml"
    config.write_text(
        f'device_id = "{DEVICE}"\n[mqtt]\nhost = "{mqtt_broker.host}"\nport = {mqtt_broker.port}\n'
    )
    with Observer(mqtt_broker, ["homeassistant/#"]) as watcher:
        assert cli_mqtt(argparse.Namespace(action="cleanup", config=str(config))) == 0
        # Only what was retained is emptied: Home Assistant warns about an empty payload on a
        # topic it never saw (the other mode's topics).
        assert watcher.wait_for(lambda ms: sum(m.payload == b"" for m in ms) >= configs, 5.0)
        time.sleep(0.2)
        emptied = {m.topic for m in watcher.messages if m.payload == b""}
        assert emptied == {t for t, _ in ha.discovery_messages(h.link.info, mode)}
    assert f"removed {configs} retained discovery configs" in capsys.readouterr().out
    with Observer(mqtt_broker, ["homeassistant/#"]) as after:
        assert after.wait_for(lambda ms: len(ms) >= 1, 5.0)
        time.sleep(0.3)
        assert [m.topic for m in after.messages] == ["homeassistant/sensor/otherpi/x/config"]


# ---------------------------------------------------------------------------------------------
# Fuzzing the command parser: nothing escapes, whatever arrives


@settings(max_examples=300, deadline=None)
@given(
    suffix=st.one_of(st.sampled_from(COMMAND_NAMES), st.text(max_size=40)),
    payload=st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b"ON", b"off", b"42", b"100.0", b"mirror", b"PRESS", b""]),
        st.text(max_size=50).map(str.encode),
    ),
    retained=st.booleans(),
)
def test_parse_command_never_raises_and_only_returns_valid_commands(
    suffix, payload, retained
) -> None:
    command = parse_command(suffix, payload, retained)
    if command is None:
        return
    assert not retained and len(payload) <= MAX_COMMAND_BYTES and command.name == suffix
    if suffix in ("detection", "quiet_hours"):
        assert isinstance(command.value, bool)
    elif suffix == "policy":
        assert command.value in POLICIES
    elif suffix == "volume":
        assert isinstance(command.value, int) and 0 <= command.value <= 100
    else:
        assert command.value is None
