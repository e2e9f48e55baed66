"""Frame sources without hardware: the Pi camera is an injected fake implementing only the
picamera2 calls Picamera2Source uses, with picamera2's signatures; V4L2 and `open_source`'s
choice by scheme. (Replays: test_replay.py; the capture thread: test_capture.py.)"""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moodpi import config as config_mod
from moodpi.perception.sources import CameraError, open_source
from moodpi.perception.sources.picamera import Picamera2Source, probe_picamera2
from moodpi.perception.sources.replay import ReplaySource
from moodpi.perception.sources.v4l2 import V4L2Source
from tests.support.camera import FakePicamera2, expected_y


def camera_config(**camera: Any) -> config_mod.CameraConfig:
    return config_mod.from_dict({"camera": camera}).camera


# ---------------------------------------------------------------------------------------------
# Picamera2 (injected fake with picamera2's call signatures)


def test_picamera2_delivers_main_and_lores_y_planes_and_closes_on_stop() -> None:
    fake = FakePicamera2()
    cfg = camera_config(width=1280, height=720, fps=15.0)
    source = Picamera2Source(cfg, picamera2_factory=lambda: fake)
    assert fake.config is None  # nothing opened by the constructor
    with source:
        # detect small, read large: the ISP makes both streams from the whole sensor
        assert fake.config["main"] == {"size": (1280, 720), "format": "YUV420"}
        assert fake.config["lores"] == {"size": (320, 180), "format": "YUV420"}
        assert fake.config["controls"] == {"FrameRate": 15.0}
        frames = [source.read(0.5) for _ in range(3)]
    for i, frame in enumerate(frames):
        assert frame.image.shape == (720, 1280) and frame.image.dtype == np.uint8
        assert frame.image.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(frame.image, expected_y(1280, 720, i))
        assert frame.lores is not None
        np.testing.assert_array_equal(frame.lores, expected_y(320, 180, i))
        assert frame.t == pytest.approx(5.0 + 0.1 * i) and frame.index == i
    assert all(r.released for r in fake.requests)
    assert fake.closed and not fake.started and not source.is_replay


def test_picamera2_timeout_returns_none_and_waits_again_for_the_same_request() -> None:
    fake = FakePicamera2(timeouts=2, stamp=False)
    source = Picamera2Source(camera_config(), picamera2_factory=lambda: fake)
    source.start()
    assert source.read(0.2) is None and source.read(0.2) is None
    before = time.monotonic()
    frame = source.read(0.2)
    assert frame is not None and frame.t >= before  # no SensorTimestamp: monotonic clock
    assert len(fake.jobs) == 1 and [t for _, t in fake.waits] == [0.2, 0.2, 0.2]
    fake.timeouts = 1
    assert source.read(0.2) is None
    source.stop()
    assert fake.cancelled and fake.closed  # the request left in flight was cancelled


def test_picamera2_uses_the_size_granted_and_mirrors() -> None:
    fake = FakePicamera2(grant=(96, 60))
    with Picamera2Source(
        camera_config(width=100, height=60, hflip=True), picamera2_factory=lambda: fake
    ) as source:
        frame = source.read(0.5)
    np.testing.assert_array_equal(frame.image, expected_y(96, 60, 0)[:, ::-1])


def test_picamera2_failures_are_camera_errors_and_leave_nothing_open() -> None:
    def unplugged() -> Any:
        raise RuntimeError("Camera __init__ sequence did not complete.")

    with pytest.raises(CameraError, match="cannot open"):
        Picamera2Source(camera_config(), picamera2_factory=unplugged).start()
    fake = FakePicamera2(fail_configure=True)
    with pytest.raises(CameraError, match="Failed to allocate"):
        Picamera2Source(camera_config(), picamera2_factory=lambda: fake).start()
    assert fake.closed


def test_picamera2_garbage_buffer_is_counted_not_fatal() -> None:
    fake = FakePicamera2()
    cfg = camera_config(width=64, height=48)
    with Picamera2Source(cfg, picamera2_factory=lambda: fake) as source:
        fake.config["main"]["size"] = (32, 24)  # buffers now smaller than the frame expected
        assert source.read(0.5) is None
        assert source.frames_bad == 1


# ---------------------------------------------------------------------------------------------
# Choosing a source


def test_auto_without_any_camera_says_what_it_tried() -> None:
    with pytest.raises(CameraError) as info:
        open_source(
            "auto",
            camera_config(),
            picamera2_probe=lambda: "libcamera found no Pi camera",
            path_exists=lambda path: False,
        )
    message = str(info.value)
    assert "picamera2" in message and "libcamera found no Pi camera" in message
    assert "/dev/video0" in message and "replay:PATH" in message


def test_auto_prefers_picamera2_then_video0() -> None:
    cfg = camera_config()
    assert isinstance(open_source("auto", cfg, picamera2_probe=lambda: None), Picamera2Source)
    source = open_source(
        "auto",
        cfg,
        picamera2_probe=lambda: "not installed",
        path_exists=lambda path: path == "/dev/video0",
    )
    assert isinstance(source, V4L2Source) and "/dev/video0" in source.describe()


def test_explicit_specs(tmp_path: Path) -> None:
    cfg = camera_config(fps=4.0, loop=True, resize=True, width=64, height=48)
    assert isinstance(open_source("picamera2", cfg), Picamera2Source)
    assert "v4l2 2 " in open_source("v4l2:2", cfg).describe()
    assert "/dev/video7" in open_source(" v4l2:/dev/video7 ", cfg).describe()
    replay = open_source(f"replay:{tmp_path}", cfg)
    assert isinstance(replay, ReplaySource) and replay.is_replay
    assert (replay.path, replay.fps, replay.loop, replay.realtime) == (tmp_path, 4.0, True, False)
    for bad in ("usb:0", "v4l2:", "replay:", "", "Auto"):
        with pytest.raises(ValueError, match="unknown camera source"):
            open_source(bad, cfg)


def test_probe_picamera2_explains_and_ignores_usb_webcams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails, as off a Pi
    assert "picamera2" in probe_picamera2()

    def module(cameras: list[dict[str, str]]) -> types.ModuleType:
        fake = types.ModuleType("picamera2")
        info = staticmethod(lambda: cameras)
        fake.Picamera2 = type("Picamera2", (), {"global_camera_info": info})
        return fake

    usb = {"Id": "/base/scb/pcie@7d500000/pci@0,0/usb@0,0-1:1.0-046d:0825", "Model": "uvc"}
    csi = {"Id": "/base/soc/i2c0mux/i2c@1/imx219@10", "Model": "imx219"}
    monkeypatch.setitem(sys.modules, "picamera2", module([usb]))
    assert "no Pi camera" in probe_picamera2()
    monkeypatch.setitem(sys.modules, "picamera2", module([usb, csi]))
    assert probe_picamera2() is None


def test_v4l2_missing_device_is_a_camera_error(tmp_path: Path) -> None:
    source = V4L2Source(str(tmp_path / "video9"), camera_config())
    with pytest.raises(CameraError, match="video9"):
        source.start()
    source.stop()  # harmless when never opened
