"""Image files of a replay, read bounded: size from the header first, decoded only when sane.

A 16000x16000 PNG is a few hundred kilobytes on disk and 256 MB once decoded; its header says
so in its first 24 bytes. Files are read with a size limit (a FIFO or device in a replay folder
is refused, never read) and decoded from memory only when their pixel count is within limits.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from moodpi.config.files import UnreadableFile, read_limited

MAX_FRAME_PIXELS = 4096 * 4096  # camera.width and camera.height are at most 4096
MAX_FRAME_BYTES = 64 << 20
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class FrameRefused(ValueError):
    """Why one image file of a replay was skipped (the message names the file)."""


def read_frame_file(path: Path, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """The image as grey uint8, or FrameRefused: unreadable, too large, or undecodable."""
    try:
        data = read_limited(path, MAX_FRAME_BYTES)
    except UnreadableFile as exc:
        raise FrameRefused(str(exc)) from None
    size = image_size(data)
    if size is None:
        raise FrameRefused(f"{path}: not a PNG, JPEG or BMP image (no size in its header)")
    width, height = size
    if width * height > max_pixels:
        raise FrameRefused(
            f"{path} is {width}x{height} ({width * height / 1e6:.0f} M pixels), over the limit "
            f"of {max_pixels / 1e6:.1f} M: not decoded"
        )
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FrameRefused(f"{path}: cannot decode the image")
    return image


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG or BMP header, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments up to the frame header (SOFn): its height and width."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        if length < 2:
            return None
        pos += 2 + length
    return None
