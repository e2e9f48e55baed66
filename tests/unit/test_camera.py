"""Camera sources and the capture thread, without hardware.

Replays run on real files made here (an MJPG .avi and PNG/JPEG folders in tmp_path); the Pi camera
is an injected fake implementing only the picamera2 calls Picamera2Source uses, with picamera2's
signatures; the capture thread is driven by scripted sources.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from moodpi import config as config_mod
from moodpi.perception.capture import CaptureThread
from moodpi.perception.sources import CameraError, FrameSource, SourceEnded, open_source
from moodpi.perception.sources.picamera import Picamera2Source, probe_picamera2
from moodpi.perception.sources.replay import ReplaySource
from moodpi.perception.sources.v4l2 import V4L2Source
from moodpi.types import Frame
from tests.support.clock import FakeClock

W, H = 64, 48


def camera_config(**camera: Any) -> config_mod.CameraConfig:
    return config_mod.from_dict({"camera": camera}).camera


def level(i: int) -> int:
    return (i * 20 + 10) % 256


def write_video(path: Path, n: int, size: tuple[int, int] = (W, H), fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), level(i), np.uint8))
    writer.release()
    return path


def write_folder(folder: Path, n: int, suffix: str = ".png") -> Path:
    folder.mkdir(exist_ok=True)
    for i in reversed(range(n)):  # written out of order: playback must follow the names
        cv2.imwrite(str(folder / f"frame_{i:03d}{suffix}"), np.full((H, W), level(i), np.uint8))
    return folder


def play(source: ReplaySource, limit: int = 1000) -> list[Frame]:
    frames = []
    with pytest.raises(SourceEnded):
        for _ in range(limit):
            frame = source.read(1.0)
            if frame is not None:
                frames.append(frame)
    return frames


# ---------------------------------------------------------------------------------------------
# Replay


def test_video_replays_every_frame_on_the_replay_clock(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", 12)
    with ReplaySource(video, fps=5.0) as source:
        assert isinstance(source, FrameSource) and source.is_replay
        frames = play(source)
    assert [f.index for f in frames] == list(range(12))
    assert [f.t for f in frames] == pytest.approx([i / 5.0 for i in range(12)])
    for i, frame in enumerate(frames):
        assert frame.image.shape == (H, W) and frame.image.dtype == np.uint8
        assert abs(float(frame.image.mean()) - level(i)) < 3  # MJPG is lossy
    assert source.frames_bad == 0


def test_folder_replays_in_name_order(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "frames", 6)
    (tmp_path / "frames" / "notes.txt").write_text("not an image")
    with ReplaySource(folder, fps=10.0) as source:
        frames = play(source)
    assert [int(f.image[0, 0]) for f in frames] == [level(i) for i in range(6)]
    assert [f.t for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert source.frames_bad == 0


def test_loop_restarts_and_time_keeps_increasing(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "frames", 3)
    video = write_video(tmp_path / "clip.avi", 3)
    for path in (folder, video):
        with ReplaySource(path, fps=2.0, loop=True) as source:
            frames = [source.read(1.0) for _ in range(8)]
        assert all(f is not None for f in frames)
        assert [f.index for f in frames] == list(range(8))
        assert [f.t for f in frames] == pytest.approx([i / 2.0 for i in range(8)])
        means = [round(float(f.image.mean())) for f in frames]
        assert means[3:6] == means[0:3] and means[6:8] == means[0:2]


def test_corrupt_images_are_skipped_and_counted(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "frames", 4, suffix=".jpg")
    (folder / "frame_001.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    (folder / "frame_002b.png").write_bytes(b"")
    with ReplaySource(folder, fps=10.0) as source:
        frames = play(source)
    assert source.frames_bad == 2
    # Name order: 000, 001 (bad), 002, 002b (bad), 003. A bad frame keeps its slot on the
    # replay clock, so the others keep their times.
    assert [f.index for f in frames] == [0, 2, 4]
    assert [f.t for f in frames] == pytest.approx([0.0, 0.2, 0.4])
    assert [round(float(f.image.mean())) for f in frames] == pytest.approx(
        [level(0), level(2), level(3)], abs=3
    )


def test_a_replay_of_only_bad_frames_ends_or_fails_instead_of_spinning(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    for name in ("a.jpg", "b.png"):
        (folder / name).write_bytes(b"garbage")
    with ReplaySource(folder, fps=10.0) as source:
        assert play(source) == []
        assert source.frames_bad == 2
    with ReplaySource(folder, fps=10.0, loop=True) as source, pytest.raises(CameraError):
        for _ in range(10):
            source.read(1.0)


@pytest.mark.parametrize("kind", ["missing file", "missing folder", "empty folder", "not a video"])
def test_unusable_replay_inputs_name_the_path(tmp_path: Path, kind: str) -> None:
    path = {
        "missing file": tmp_path / "nope.avi",
        "missing folder": tmp_path / "nope",
        "empty folder": tmp_path / "empty",
        "not a video": tmp_path / "junk.avi",
    }[kind]
    if kind == "empty folder":
        path.mkdir()
        (path / "readme.txt").write_text("no images here")
    if kind == "not a video":
        path.write_bytes(b"RIFF but not really" * 50)
    source = ReplaySource(path, fps=10.0)  # constructing opens nothing
    with pytest.raises(CameraError, match=str(path.name)):
        source.start()


def test_replay_resizes_only_when_asked_and_mirrors(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    image = np.zeros((H, W), np.uint8)
    image[:, W // 2 :] = 200  # right half bright
    cv2.imwrite(str(folder / "a.png"), image)
    with ReplaySource(folder, fps=10.0) as source:
        assert source.read(1.0).image.shape == (H, W)
    with ReplaySource(folder, fps=10.0, size=(32, 24), hflip=True) as source:
        frame = source.read(1.0)
    assert frame.image.shape == (24, 32)
    assert frame.image[:, :8].mean() > 190 and frame.image[:, -8:].mean() < 10


def test_realtime_replay_paces_to_fps_with_bounded_waits(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "frames", 8)
    clock = FakeClock()
    source = ReplaySource(folder, fps=10.0, realtime=True, clock=clock, sleep=clock.sleep)
    with source:
        frames = [source.read(1.0) for _ in range(5)]
        assert clock.sleeps == pytest.approx([0.1] * 4)
        assert [f.t for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
        # A consumer that stalled for 5 s gets the next frame at once, then pacing resumes
        # (no burst of catch-up frames).
        clock.now += 5.0
        clock.sleeps.clear()
        assert source.read(1.0) is not None and clock.sleeps == []
        assert source.read(1.0) is not None and clock.sleeps == pytest.approx([0.1])

    slow = ReplaySource(folder, fps=0.5, realtime=True, clock=clock, sleep=clock.sleep)
    with slow:
        assert slow.read(0.5) is not None
        clock.sleeps.clear()
        results = [slow.read(0.5) for _ in range(4)]
    assert results[:3] == [None, None, None]  # never waits longer than asked
    assert results[3] is not None and results[3].t == pytest.approx(2.0)
    assert clock.sleeps == pytest.approx([0.5] * 4)


def test_realtime_replay_roughly_follows_the_wall_clock(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "frames", 6)
    with ReplaySource(folder, fps=50.0, realtime=True) as source:
        began = time.monotonic()
        frames = [source.read(1.0) for _ in range(6)]
        elapsed_s = time.monotonic() - began
    assert all(f is not None for f in frames)
    assert 0.09 <= elapsed_s < 2.0  # five intervals of 20 ms; loose upper bound for a busy CI


# ---------------------------------------------------------------------------------------------
# Picamera2 (injected fake with picamera2's call signatures)


class FakeRequest:
    def __init__(self, buffers: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
        self.buffers, self.metadata = buffers, metadata
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        assert name in ("main", "lores") and not self.released
        return self.buffers[name].copy()

    def get_metadata(self) -> dict[str, Any]:
        return dict(self.metadata)

    def release(self) -> None:
        self.released = True


class FakePicamera2:
    """What Picamera2Source calls: configuration, start, capture_request(wait=False) + wait(job,
    timeout), cancel_all_and_flush, stop, close. YUV420 comes as (h * 3/2, stride) like
    picamera2's make_array, with padding columns past the width."""

    def __init__(
        self,
        *,
        pad_px: int = 32,
        timeouts: int = 0,
        grant: tuple[int, int] | None = None,
        stamp: bool = True,
        fail_configure: bool = False,
    ) -> None:
        self.pad_px, self.timeouts, self.grant, self.stamp = pad_px, timeouts, grant, stamp
        self.fail_configure = fail_configure
        self.config: dict[str, Any] | None = None
        self.started = self.closed = self.cancelled = False
        self.jobs: list[object] = []
        self.waits: list[tuple[object, float]] = []
        self.requests: list[FakeRequest] = []
        self.frame_no = 0

    def create_video_configuration(
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: Any = None,
        transform: Any = None,
        colour_space: Any = None,
        buffer_count: int = 6,
        controls: Any = None,
        display: Any = "main",
        encode: Any = "main",
        queue: bool = True,
        **rest: Any,
    ) -> dict[str, Any]:
        return {
            "main": dict(main or {}),
            "lores": dict(lores or {}),
            "controls": dict(controls),
            "display": display,
            "encode": encode,
        }

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.fail_configure:
            raise RuntimeError("Failed to allocate buffers")
        self.config = camera_config
        if self.grant is not None:
            self.config["main"]["size"] = self.grant

    def camera_configuration(self) -> dict[str, Any] | None:
        return self.config

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        assert self.config is not None
        self.started = True

    def capture_request(
        self, wait: Any = None, signal_function: Any = None, flush: Any = None
    ) -> object:
        assert wait is False and self.started
        self.jobs.append(object())
        return self.jobs[-1]

    def wait(self, job: object, timeout: float | None = None) -> FakeRequest:
        assert timeout is not None and timeout > 0 and job is self.jobs[-1]
        self.waits.append((job, timeout))
        if self.timeouts:
            self.timeouts -= 1
            raise TimeoutError
        assert self.config is not None
        buffers = {name: self._yuv(*self.config[name]["size"]) for name in ("main", "lores")}
        stamp_ns = 5_000_000_000 + self.frame_no * 100_000_000
        metadata = {"SensorTimestamp": stamp_ns} if self.stamp else {}
        self.frame_no += 1
        self.requests.append(FakeRequest(buffers, metadata))
        return self.requests[-1]

    def _yuv(self, w: int, h: int) -> np.ndarray:
        yuv = np.full((h * 3 // 2, w + self.pad_px), 128, np.uint8)
        yuv[:h, w:] = 255  # stride padding
        yuv[:h, :w] = expected_y(w, h, self.frame_no)
        return yuv

    def cancel_all_and_flush(self) -> None:
        self.cancelled = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


def expected_y(w: int, h: int, frame_no: int) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) * 3 + frame_no).astype(np.uint8)


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


# ---------------------------------------------------------------------------------------------
# Capture thread


class ScriptedSource:
    """A live source whose reads follow a script: 'frame', 'none', garbage kinds, or an exception
    to raise; after the script, frames forever. `fail_starts` holds start() calls (1-based)
    that raise."""

    is_replay = False

    def __init__(
        self,
        script: list[Any] = (),
        *,
        fail_starts: set[int] = frozenset(),
        clock: FakeClock | None = None,
        delay_s: float = 0.001,
    ) -> None:
        self.script = list(script)
        self.fail_starts = set(fail_starts)
        self.clock = clock
        self.delay_s = delay_s
        self.frames_bad = 0
        self.starts = self.stops = 0
        self.is_open = False
        self.index = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        self.starts += 1
        if self.starts in self.fail_starts:
            raise CameraError("camera unplugged")
        self.is_open = True

    def read(self, timeout_s: float) -> Any:
        assert self.is_open
        time.sleep(self.delay_s)
        step = self.script.pop(0) if self.script else "frame"
        if isinstance(step, BaseException):
            raise step
        if step == "none":
            if self.clock is not None:
                self.clock.now += timeout_s
            return None
        if step == "float":
            return Frame(np.zeros((H, W), np.float32), 0.0, -1)
        if step == "colour":
            return Frame(np.zeros((H, W, 3), np.uint8), 0.0, -1)
        if step == "array":
            return np.zeros((H, W), np.uint8)
        self.index += 1
        return Frame(np.full((H, W), self.index % 256, np.uint8), self.index * 0.1, self.index - 1)

    def stop(self) -> None:
        self.stops += 1
        self.is_open = False

    def describe(self) -> str:
        return "scripted"


def collect(capture: CaptureThread, n: int, timeout_s: float = 5.0) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout_s
    while len(frames) < n and time.monotonic() < deadline:
        frame = capture.get(0.2)
        if frame is not None:
            frames.append(frame)
    return frames


def test_lossless_replay_hands_over_every_frame_in_order(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "frames", 25)
    stop = threading.Event()
    capture = CaptureThread(ReplaySource(folder, fps=10.0), lossless=True, stop_event=stop)
    capture.start()
    frames = []
    deadline = time.monotonic() + 10.0
    while not capture.ended and time.monotonic() < deadline:
        frame = capture.get(0.5)
        if frame is not None:
            frames.append(frame)
            time.sleep(0.002)  # a consumer slower than the decoder
    capture.stop(timeout_s=1.0)
    assert [f.index for f in frames] == list(range(25))
    stats = capture.stats()
    assert stats["frames_read"] == 25 and stats["frames_dropped"] == 0 and stats["ended"]
    assert not capture.alive and capture.fatal_error is None


def test_latest_frame_mode_drops_stale_frames_and_counts_them() -> None:
    source = ScriptedSource()
    capture = CaptureThread(source, lossless=False, stop_event=threading.Event())
    capture.start()
    received = []
    for _ in range(5):
        time.sleep(0.03)  # slow consumer: the camera produces several frames meanwhile
        frame = capture.get(1.0)
        assert frame is not None
        received.append(frame.index)
    capture.stop(timeout_s=1.0)
    assert received == sorted(set(received)) and received[-1] - received[0] > 4
    stats = capture.stats()
    assert stats["frames_dropped"] > 0
    assert stats["frames_read"] - stats["frames_dropped"] - len(received) in (0, 1)  # 1 in slot
    assert stats["fps"] > 0 and source.stops == source.starts == 1


def test_failing_source_backs_off_logs_once_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="moodpi.perception.capture")
    clock = FakeClock()
    script = ["frame"] * 3 + [CameraError("USB reset")] + ["float", "colour", "array", "none"]
    source = ScriptedSource(script, fail_starts={2}, clock=clock)
    capture = CaptureThread(
        source, lossless=True, stop_event=threading.Event(), clock=clock, sleep=clock.sleep
    )
    capture.start()
    frames = collect(capture, 6)
    stats = capture.stats()
    capture.stop(timeout_s=1.0)
    assert [f.index for f in frames] == list(range(6))  # frames flow again after the failure
    assert clock.sleeps == [0.5, 1.0]  # after the read error, after the failed reopen
    assert capture.reconnects == 1 and stats["reconnects"] == 1
    assert stats["frames_bad"] == 3 and capture.failing_since is None
    assert capture.last_error is not None and "camera unplugged" in capture.last_error
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "USB reset" in warnings[0].getMessage()
    assert any("recovered" in r.getMessage() for r in caplog.records)
    assert source.starts == 3 and source.stops == 2  # each open closed again


def test_a_camera_that_stays_gone_backs_off_to_the_cap_and_reports_how_long() -> None:
    clock = FakeClock()
    source = ScriptedSource(fail_starts=set(range(1, 1000)))
    capture = CaptureThread(
        source,
        lossless=False,
        stop_event=threading.Event(),
        backoff_initial_s=0.5,
        backoff_max_s=10.0,
        clock=clock,
        sleep=lambda s: (clock.sleep(s), time.sleep(0.001)),
    )
    capture.start()
    deadline = time.monotonic() + 5.0
    while len(clock.sleeps) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    capture.stop(timeout_s=1.0)
    assert clock.sleeps[:8] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert capture.failing_since == 0.0 and capture.failing_for_s() >= 45.5
    assert "camera unplugged" in capture.stats()["last_error"] and capture.reconnects == 0


def test_a_stalled_source_counts_as_a_failure_and_is_reopened() -> None:
    clock = FakeClock()
    source = ScriptedSource(["none"] * 30, clock=clock)  # each read: frame_timeout_s / 2 of silence
    capture = CaptureThread(
        source,
        lossless=True,
        stop_event=threading.Event(),
        frame_timeout_s=0.2,
        poll_s=0.1,
        clock=clock,
        sleep=clock.sleep,
    )
    capture.start()
    frames = collect(capture, 1)
    capture.stop(timeout_s=1.0)
    assert frames and capture.reconnects >= 1
    assert "no frame for" in capture.last_error


def test_a_failing_replay_ends_with_its_error_instead_of_retrying() -> None:
    source = ScriptedSource(["frame", CameraError("decoder exploded")])
    source.is_replay = True
    capture = CaptureThread(
        source,
        lossless=True,
        stop_event=threading.Event(),
        sleep=lambda s: pytest.fail("a replay must not back off"),
    )
    capture.start()
    assert collect(capture, 1)[0].index == 0
    deadline = time.monotonic() + 2.0
    while not capture.ended and time.monotonic() < deadline:
        capture.get(0.1)
    capture.stop(timeout_s=1.0)
    assert capture.ended and "decoder exploded" in capture.fatal_error


def test_a_bad_replay_path_fails_at_start(tmp_path: Path) -> None:
    capture = CaptureThread(
        ReplaySource(tmp_path / "nope.avi", fps=10.0), lossless=True, stop_event=threading.Event()
    )
    with pytest.raises(CameraError, match=r"nope\.avi"):
        capture.start()
    assert not capture.alive


@pytest.mark.parametrize("lossless", [True, False])
def test_stop_joins_promptly_even_with_nobody_taking_frames(lossless: bool) -> None:
    source = ScriptedSource()
    capture = CaptureThread(source, lossless=lossless, stop_event=threading.Event())
    capture.start()
    deadline = time.monotonic() + 2.0
    while capture.frames_read < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert capture.frames_read >= 2  # lossless: one in the slot, one waiting to go in
    capture.stop(timeout_s=1.0)
    assert not capture.alive and not source.is_open


def test_the_daemons_stop_event_ends_the_thread_during_backoff() -> None:
    stop = threading.Event()
    source = ScriptedSource(fail_starts=set(range(1, 100)))
    capture = CaptureThread(source, lossless=False, stop_event=stop, backoff_initial_s=30.0)
    capture.start()
    deadline = time.monotonic() + 2.0
    while source.starts < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()  # the 30 s backoff must not hold the thread
    deadline = time.monotonic() + 1.0
    while capture.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not capture.alive and capture.get(0.05) is None
