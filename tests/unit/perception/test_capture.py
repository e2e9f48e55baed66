"""The capture thread, driven by scripted sources and real replays: every frame or only the
newest, retries with backoff, stalls, and a prompt stop."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moodpi.perception.capture import CaptureThread
from moodpi.perception.sources import CameraError
from moodpi.perception.sources.replay import ReplaySource
from moodpi.types import Frame
from tests.support.camera import H, W, write_folder
from tests.support.clock import FakeClock


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


def test_the_open_and_close_callbacks_follow_the_device() -> None:
    """What the camera light hangs on: open only after a start that worked, close after each stop
    of an open device, around a reconnect, and even when stop itself fails."""
    clock = FakeClock()
    source = ScriptedSource(["frame", CameraError("USB reset")], fail_starts={2}, clock=clock)
    seen: list[tuple[str, bool]] = []  # (callback, whether the device was open then)
    capture = CaptureThread(
        source,
        lossless=True,
        stop_event=threading.Event(),
        clock=clock,
        sleep=clock.sleep,
        on_open=lambda: seen.append(("open", source.is_open)),
        on_close=lambda: seen.append(("close", source.is_open)),
    )
    assert seen == []  # nothing opened by the constructor
    capture.start()
    assert len(collect(capture, 3)) == 3
    capture.stop(timeout_s=1.0)
    assert source.starts == 3  # the second start failed: no open, so no close either
    assert seen == [("open", True), ("close", False), ("open", True), ("close", False)]

    def broken_stop() -> None:
        source.is_open = False
        raise RuntimeError("device busy")

    seen.clear()
    source.stop = broken_stop  # type: ignore[method-assign]
    capture = CaptureThread(
        source,
        lossless=True,
        stop_event=threading.Event(),
        on_open=lambda: seen.append(("open", source.is_open)),
        on_close=lambda: seen.append(("close", source.is_open)),
    )
    capture.start()
    assert len(collect(capture, 1)) == 1
    capture.stop(timeout_s=1.0)
    assert seen == [("open", True), ("close", False)]


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
