"""How long a test may wait: the development machine's figure times MOODPI_TEST_TIME_SCALE.

The waits in these tests are sized for an ordinary x86 core. Under qemu-user emulation
(`make pi-check`), starting Python with NumPy, OpenCV and the TFLite runtime alone takes 10-20 s
and inference is 20-40 times slower, so `scripts/pi_check.sh` sets the scale; nothing else
changes what the tests assert.
"""

from __future__ import annotations

import os


def _scale() -> float:
    raw = os.environ.get("MOODPI_TEST_TIME_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"MOODPI_TEST_TIME_SCALE must be a number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"MOODPI_TEST_TIME_SCALE must be at least 1, got {raw!r}")
    return value


SCALE = _scale()


def seconds(s: float) -> float:
    """A wait of `s` seconds on a development machine, as long as this machine needs."""
    return s * SCALE
