"""Facts about the board the daemon runs on: CPU temperature, the Pi firmware's throttle flags,
and where its activity LED lives (system/led.py drives it).

Read from sysfs only (no `vcgencmd` subprocess on the daemon's hot path); None where absent,
which is every machine that is not a Pi.
"""

from __future__ import annotations

from pathlib import Path

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
# Raspberry Pi OS kernels expose the firmware's get_throttled bits here (same as vcgencmd's).
THROTTLED = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")


LEDS = Path("/sys/class/leds")
# The green activity LED: ACT on current Raspberry Pi OS kernels, led0 on older ones.
ACTIVITY_LED_NAMES = ("ACT", "led0")


def activity_led(leds: Path = LEDS) -> Path:
    """The board's activity LED directory (the first that exists; else the current name)."""
    for name in ACTIVITY_LED_NAMES:
        if (leds / name).is_dir():
            return leds / name
    return leds / ACTIVITY_LED_NAMES[0]


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


# get_throttled bits: (bit, happening now?, meaning); the high half latches since boot.
THROTTLE_BITS = (
    (0, True, "under-voltage now"),
    (1, True, "ARM frequency capped now"),
    (2, True, "throttled now"),
    (3, True, "soft temperature limit now"),
    (16, False, "under-voltage has occurred"),
    (17, False, "frequency capping has occurred"),
    (18, False, "throttling has occurred"),
    (19, False, "soft temperature limit has occurred"),
)


def throttle_reasons(flags: int) -> tuple[list[str], list[str]]:
    """The meanings of the set bits: (happening now, happened since boot)."""
    now = [meaning for bit, is_now, meaning in THROTTLE_BITS if is_now and flags >> bit & 1]
    past = [meaning for bit, is_now, meaning in THROTTLE_BITS if not is_now and flags >> bit & 1]
    return now, past
