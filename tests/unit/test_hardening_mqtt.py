"""Issue 18, defects 6 and 8: a flood of `homeassistant/status`, and a certificate that fails.

Against a real Mosquitto (tests.support.broker); the rediscovery's coalescing also on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from moodpi import config as cfg
from moodpi.cli.doctor.home import check_broker
from moodpi.link.mqtt import MqttLink
from moodpi.link.rediscovery import Rediscovery
from tests.support.broker import Broker, BrokerFactory, Observer, TlsFiles, make_tls_files

pytestmark = pytest.mark.broker


def _wait(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def _link(mqtt: dict[str, Any], password: str | None = None) -> MqttLink:
    config = cfg.from_dict({"mqtt": {"keepalive": 5, **mqtt}})
    return MqttLink(
        config.mqtt,
        device_id="hard",
        device_name="hard",
        version="0",
        outbox=None,
        on_command=lambda _c: None,
        password=password,
        rediscovery_delay_s=(0.05, 0.2),
    )


def test_rediscovery_coalesces_a_flood_into_one_run_and_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran = threading.Event()
    runs: list[float] = []

    def publish() -> None:
        runs.append(time.monotonic())
        ran.set()

    rediscovery = Rediscovery(publish, delay_s=(0.01, 0.02), min_interval_s=0.3)
    with caplog.at_level(logging.INFO, logger="moodpi.link.rediscovery"):
        for _ in range(1000):
            rediscovery.request()
        assert ran.wait(1.0)
        ran.clear()
        rediscovery.request()  # right after a run: held for min_interval_s, not dropped
        assert ran.wait(2.0)
    rediscovery.close()
    assert rediscovery.requests == 1001 and len(runs) == 2
    assert runs[1] - runs[0] >= 0.29
    assert len(caplog.records) <= 2


def test_a_flood_of_ha_online_neither_delays_rediscovery_nor_floods_the_log(
    mqtt_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    link = _link({"host": mqtt_broker.host, "port": mqtt_broker.port})
    with caplog.at_level(logging.INFO, logger="moodpi"):
        link.start()
        try:
            assert _wait(lambda: link.health()["connected"])
            config_topic = "homeassistant/sensor/hard/emotion/config"
            with (
                Observer(mqtt_broker, [config_topic]) as watcher,
                Observer(mqtt_broker, []) as peer,
            ):
                assert watcher.wait_for(lambda ms: len(ms) >= 1)  # the retained one
                watcher.clear()
                started = time.monotonic()
                flooding = True

                def flood() -> None:
                    while flooding:
                        peer.client.publish("homeassistant/status", "online", qos=0)
                        time.sleep(0.001)

                flooder = threading.Thread(target=flood, daemon=True)
                flooder.start()
                try:
                    assert watcher.wait_for(lambda ms: len(ms) >= 1, 3.0), "rediscovery put off"
                    came_after_s = time.monotonic() - started
                    time.sleep(0.5)  # the flood goes on
                finally:
                    flooding = False
                    flooder.join(2.0)
        finally:
            link.stop()
    lines = [r for r in caplog.records if "came online" in r.getMessage()]
    assert came_after_s < 3.0
    assert len(lines) <= 2, [r.getMessage() for r in lines]


@pytest.fixture
def other_ca(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "other-ca")


@pytest.mark.slow
def test_a_certificate_signed_by_another_ca_is_named_by_the_link_and_the_doctor(
    broker_factory: BrokerFactory, tls_files: TlsFiles, other_ca: TlsFiles, tmp_path: Path
) -> None:
    broker = broker_factory(users={"u": "p"}, tls=tls_files)
    mqtt = {"host": "localhost", "port": broker.port, "username": "u", "tls_ca": str(other_ca.ca)}
    link = _link(mqtt, password="p")
    link.start()
    try:
        assert _wait(lambda: "certificate" in (link.health()["last_error"] or ""))
        error = link.health()["last_error"]
        assert "mqtt.tls_ca" in error and str(other_ca.ca) in error, error
        assert "verif" in error and not link.health()["connected"]
    finally:
        link.stop()
    config = cfg.from_dict({"state_dir": str(tmp_path), "mqtt": mqtt})
    check = check_broker(config, timeout_s=5.0)
    assert check.level == "fail" and "certificate" in check.detail, check
    assert "mqtt.tls_ca" in (check.hint or "")


def test_tls_to_a_plain_port_says_so(mqtt_broker: Broker, tls_files: TlsFiles) -> None:
    link = _link({"host": "localhost", "port": mqtt_broker.port, "tls_ca": str(tls_files.ca)})
    link.start()
    try:
        assert _wait(lambda: "TLS" in (link.health()["last_error"] or "")), link.health()
    finally:
        link.stop()
