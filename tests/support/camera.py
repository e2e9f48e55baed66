"""Cameras and frames for tests, without hardware: a fake picamera2 with picamera2's call
signatures, and frame files written on the spot (replay folders, and a huge PNG that must be
refused before it is decoded). The fake clock is tests/support/clock.py's."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

W, H = 64, 48


def level(i: int) -> int:
    return (i * 20 + 10) % 256


def write_folder(folder: Path, n: int, suffix: str = ".png") -> Path:
    folder.mkdir(exist_ok=True)
    for i in reversed(range(n)):  # written out of order: playback must follow the names
        cv2.imwrite(str(folder / f"frame_{i:03d}{suffix}"), np.full((H, W), level(i), np.uint8))
    return folder


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
