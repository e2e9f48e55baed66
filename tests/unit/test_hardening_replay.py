"""Issue 18, defect 9: a replay's skipped frames are counted, and a huge frame is not decoded."""

from __future__ import annotations

import json
import resource
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodpi import config as cfg
from moodpi.app import Daemon
from moodpi.perception.sources.base import SourceEnded
from moodpi.perception.sources.frame_files import FrameRefused, image_size, read_frame_file
from moodpi.perception.sources.replay import ReplaySource


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(path: Path, side: int = 16000) -> Path:
    """A real, decodable side x side grey PNG of a few hundred KB (rows of zeros, streamed)."""
    compressor = zlib.compressobj(1)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    body = b"".join(compressor.compress(row * 500) for _ in range(side // 500))
    body += compressor.compress(row * (side % 500)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    path.write_bytes(png + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b""))
    return path


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
