"""Facts about the board the daemon runs on: CPU temperature and the Pi firmware's throttle flags.

Read from sysfs only (no `vcgencmd` subprocess on the daemon's hot path); None where absent,
which is every machine that is not a Pi.
"""

from __future__ import annotations

from pathlib import Path

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
# Raspberry Pi OS kernels expose the firmware's get_throttled bits here (same as vcgencmd's).
THROTTLED = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")


def cpu_temperature_c(path: Path = THERMAL) -> float | None:
    try:
        return int(path.read_text().strip()) / 1000
    except (OSError, ValueError):
        return None


def throttled_flags(path: Path = THROTTLED) -> int | None:
    try:
        return int(path.read_text().strip(), 16)
    except (OSError, ValueError):
        return None
