"""Privacy you can see: quiet hours, the status LED, and "camera in use" following the camera.

The daemon runs on the injected fake picamera2 of test_camera (only the camera is faked: real
models, a real status file) with an LED that is a plain folder shaped like /sys/class/leds/NAME.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from moodpi import config as config_mod
from moodpi.app import Daemon
from moodpi.link.commands import Command
from moodpi.link.payloads import state_payload
from moodpi.perception.sources.picamera import Picamera2Source
from moodpi.system.led import GpioLed, NoLed, SysfsLed, make_led
from moodpi.system.privacy import in_quiet_hours, parse_span
from moodpi.system.status import read_status, status_path
from tests.support.clock import FakeClock
from tests.unit.test_camera import FakePicamera2

WAIT_S = 5.0


def at(hh_mm: str) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime(2025, 3, 1, hours, minutes)


@pytest.mark.parametrize(
    ("spans", "time_of_day", "quiet"),
    [
        (["22:00-07:00"], "23:30", True),
        (["22:00-07:00"], "03:00", True),
        (["22:00-07:00"], "22:00", True),  # the start is included
        (["22:00-07:00"], "07:00", False),  # the end is not
        (["22:00-07:00"], "12:00", False),
        (["12:00-13:30", "18:00-18:05"], "13:29", True),
        (["12:00-13:30", "18:00-18:05"], "13:30", False),
        (["12:00-13:30", "18:00-18:05"], "18:01", True),
        (["00:00-00:00"], "09:41", True),  # equal ends: the whole day
        ([], "03:00", False),
    ],
)
def test_quiet_hours_schedule(spans: list[str], time_of_day: str, quiet: bool) -> None:
    assert in_quiet_hours(spans, at(time_of_day)) is quiet


def test_bad_quiet_hours_and_led_settings_name_the_key() -> None:
    assert parse_span("22:00-07:00") == (22 * 60, 7 * 60)
    for bad in (["25:00-07:00"], ["22:00"], ["10pm-7am"], "22:00-07:00"):
        with pytest.raises(config_mod.ConfigError) as info:
            config_mod.from_dict({"privacy": {"quiet_hours": bad}})
        assert info.value.key == "privacy.quiet_hours"
    with pytest.raises(config_mod.ConfigError) as info:
        config_mod.from_dict({"privacy": {"led": "blue"}})
    assert info.value.key == "privacy.led"
    with pytest.raises(config_mod.ConfigError) as info:
        make_led(config_mod.from_dict({"privacy": {"led": "sysfs"}}).privacy)
    assert info.value.key == "privacy.led_sysfs_path"
    assert isinstance(make_led(config_mod.from_dict({}).privacy), NoLed)


def fake_led(folder: Path, trigger: str = "none [mmc0] timer heartbeat") -> Path:
    folder.mkdir()
    (folder / "brightness").write_text("0")
    (folder / "max_brightness").write_text("255")
    (folder / "trigger").write_text(trigger)
    return folder


def test_sysfs_led_takes_over_the_trigger_follows_set_and_gives_it_back(tmp_path: Path) -> None:
    folder = fake_led(tmp_path / "ACT")
    led = SysfsLed(folder)
    led.open()
    assert (folder / "trigger").read_text() == "none"  # no SD-card blinking while moodpi drives it
    led.set(True)
    assert (folder / "brightness").read_text() == "255"
    led.set(False)
    assert (folder / "brightness").read_text() == "0"
    led.close()
    assert (folder / "trigger").read_text() == "mmc0"
    assert led.problem is None


def test_an_led_that_cannot_be_driven_is_reported_not_fatal(tmp_path: Path) -> None:
    missing = SysfsLed(tmp_path / "no-such-led")
    missing.open()
    missing.set(True)  # no exception: the LED is a courtesy
    assert missing.problem is not None and "write access" in missing.problem
    gpio = GpioLed(17)
    gpio.open()  # neither gpiozero nor lgpio here (or no pin factory): disabled, said why
    gpio.set(True)
    gpio.close()
    try:
        import gpiozero  # noqa: F401
    except ImportError:
        assert gpio.problem is not None and "gpio" in gpio.problem.lower()


# ---------------------------------------------------------------------------------------------
# The daemon: camera in use, LED and quiet hours follow the real camera source


@pytest.fixture
def running(
    tmp_path: Path,
) -> Iterator[tuple[Daemon, list[FakePicamera2], Path, FakeClock[datetime]]]:
    led = fake_led(tmp_path / "led")
    config = config_mod.from_dict(
        {
            "state_dir": str(tmp_path / "state"),
            "history": {"enabled": False},
            "camera": {"source": "picamera2", "width": 96, "height": 64, "fps": 30.0},
            "privacy": {
                "quiet_hours": ["22:00-07:00"],
                "led": "sysfs",
                "led_sysfs_path": str(led),
            },
        }
    )
    cameras: list[FakePicamera2] = []

    def open_fake() -> Picamera2Source:
        def factory() -> FakePicamera2:
            cameras.append(FakePicamera2())
            return cameras[-1]

        return Picamera2Source(config.camera, picamera2_factory=factory)

    daemon = Daemon(config, audio=False, source_factory=open_fake)
    clock = FakeClock(at("12:00"))
    daemon.privacy.clock = clock
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        yield daemon, cameras, led, clock
    finally:
        daemon.stop_event.set()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    assert (led / "brightness").read_text() == "0"  # off once the daemon stopped
    assert all(cam.closed for cam in cameras)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def camera_shown(daemon: Daemon, led: Path, cameras: list[FakePicamera2], in_use: bool) -> bool:
    """The snapshot, the MQTT state, the LED and the fake device all agree on `in_use`."""
    device_open = bool(cameras) and cameras[-1].started and not cameras[-1].closed
    snapshot = daemon.snapshot()
    lit = (led / "brightness").read_text() != "0"
    state = state_payload(snapshot)["camera_in_use"]
    return device_open == lit == snapshot.camera_in_use == state == in_use


def command(daemon: Daemon, name: str, value: Any) -> None:
    daemon._commands.put(Command(name, value))  # as the MQTT thread hands it over


def test_camera_in_use_and_the_led_follow_the_camera(running: Any) -> None:
    daemon, cameras, led, _clock = running
    wait_for(lambda: camera_shown(daemon, led, cameras, True), "the camera to open")
    wait_for(lambda: daemon.diagnostics().frames > 3, "frames")

    command(daemon, "detection", False)  # Home Assistant's privacy switch
    wait_for(lambda: camera_shown(daemon, led, cameras, False), "the camera to be released")
    assert cameras[-1].closed and daemon.snapshot().run_state == "paused"

    command(daemon, "detection", True)
    wait_for(lambda: camera_shown(daemon, led, cameras, True), "the camera to reopen")
    assert len(cameras) == 2

    status = read_status(status_path(daemon.config.state_path))
    wait_for(
        lambda: (read_status(status.path).data or {}).get("camera_in_use") is True, "status file"
    )


def test_quiet_hours_release_the_camera_and_the_switch_overrides_them(running: Any) -> None:
    daemon, cameras, led, clock = running
    wait_for(lambda: camera_shown(daemon, led, cameras, True), "the camera to open")

    clock.now = at("22:00")  # quiet hours begin: released within the status period (1 s)
    wait_for(lambda: camera_shown(daemon, led, cameras, False), "quiet hours to release it")
    snapshot = daemon.snapshot()
    assert snapshot.quiet_hours.active and snapshot.run_state == "paused"
    assert snapshot.detection  # the privacy switch itself was not touched
    state = state_payload(snapshot)
    assert state["quiet_hours"] is True and state["quiet_hours_active"] is True
    wait_for(lambda: daemon.snapshot().faces == 0, "the face count to drop")

    command(daemon, "quiet_hours", False)  # Home Assistant's Quiet hours switch
    wait_for(lambda: camera_shown(daemon, led, cameras, True), "the camera to reopen")
    assert not daemon.snapshot().quiet_hours.active

    command(daemon, "quiet_hours", True)
    wait_for(lambda: camera_shown(daemon, led, cameras, False), "quiet hours again")


def test_a_daemon_started_in_quiet_hours_never_opens_the_camera(tmp_path: Path) -> None:
    config = config_mod.from_dict(
        {
            "state_dir": str(tmp_path / "state"),
            "history": {"enabled": False},
            "camera": {"source": "picamera2"},
            "privacy": {"quiet_hours": ["00:00-00:00"]},
        }
    )
    opened: list[FakePicamera2] = []

    def open_fake() -> Picamera2Source:
        return Picamera2Source(
            config.camera, picamera2_factory=lambda: opened.append(FakePicamera2()) or opened[-1]
        )

    daemon = Daemon(config, audio=False, source_factory=open_fake)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: daemon._ready, "ready without a camera")
        time.sleep(0.2)
        snapshot = daemon.snapshot()
        assert not opened and not snapshot.camera_in_use and snapshot.run_state == "paused"
    finally:
        daemon.stop_event.set()
        thread.join(WAIT_S)
