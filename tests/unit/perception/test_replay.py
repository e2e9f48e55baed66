"""Replays on real files made here (an MJPG .avi and PNG/JPEG folders in tmp_path): every frame on
the replay clock, loops, bad frames skipped and counted; issue 18, defect 9: the daemon counts the
skipped frames, and a huge frame is not decoded."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodpi import config as cfg
from moodpi.app import Daemon
from moodpi.perception.sources.base import CameraError, FrameSource, SourceEnded
from moodpi.perception.sources.frame_files import FrameRefused, image_size, read_frame_file
from moodpi.perception.sources.replay import ReplaySource
from moodpi.types import Frame
from tests.support.camera import H, W, huge_png, level, write_folder
from tests.support.clock import FakeClock


def write_video(path: Path, n: int, size: tuple[int, int] = (W, H), fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), level(i), np.uint8))
    writer.release()
    return path


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


def _replay_folder(tmp_path: Path, huge: bool = False) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (0, 2, 4):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((48, 64), 120, np.uint8))
    (folder / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (folder / "003.jpg").write_bytes(b"not a jpeg at all")
    if huge:
        huge_png(folder / "005.png")
    return folder


def test_skipped_frames_count_in_the_daemons_final_frames_bad(tmp_path: Path) -> None:
    folder = _replay_folder(tmp_path)
    config = cfg.from_dict(
        {
            "state_dir": str(tmp_path / "state"),
            "history": {"enabled": False},
            "camera": {"source": f"replay:{folder}"},
        }
    )
    daemon = Daemon(config, audio=False)
    assert daemon.run() == 0
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["diagnostics"]["frames_bad"] == 2
    assert status["diagnostics"]["frames"] == 3


def test_a_16000_pixel_square_png_is_refused_before_decoding(tmp_path: Path) -> None:
    folder = _replay_folder(tmp_path, huge=True)
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    source = ReplaySource(folder, fps=10.0)
    source.start()
    frames = []
    with pytest.raises(SourceEnded):
        while True:
            frames.append(source.read(1.0))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert [f is not None for f in frames] == [True, False, True, False, True, False]
    assert source.frames_bad == 3
    assert grown_mb < 100, f"peak RSS grew by {grown_mb:.0f} MB"


def test_the_refusal_names_the_file_and_its_size(tmp_path: Path) -> None:
    path = huge_png(tmp_path / "big.png", side=5000)
    with pytest.raises(
        FrameRefused, match=r"big\.png is 5000x5000 \(25 M pixels\), over the limit"
    ):
        read_frame_file(path)
    assert read_frame_file(path, max_pixels=25_000_000).shape == (5000, 5000)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp"])
def test_image_size_reads_the_header_of_what_opencv_writes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    cv2.imwrite(str(path), np.zeros((37, 53, 3), np.uint8))
    assert image_size(path.read_bytes()) == (53, 37)
    assert read_frame_file(path).shape == (37, 53)


def test_a_fifo_in_a_replay_folder_never_blocks(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "x.png")
    with pytest.raises(FrameRefused, match="not a regular file"):
        read_frame_file(tmp_path / "x.png")
