"""The doctor's checks of the host: free disk for the state directory and, on a Pi, the CPU
temperature and the firmware's under-voltage and throttling flags."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from moodpi import config as cfg
from moodpi.cli.doctor.check import FAIL, OK, SKIP, WARN, Check
from moodpi.system.board import (
    THERMAL,
    THROTTLED,
    cpu_temperature_c,
    throttle_reasons,
    throttled_flags,
)

PI_MODEL = Path("/proc/device-tree/model")
DISK_WARN_BYTES = 500 * 1024**2
DISK_FAIL_BYTES = 50 * 1024**2
TEMP_WARN_C = 70.0  # the firmware starts to throttle at 80 (Pi 4) / 85 (Pi 5)
TEMP_FAIL_C = 80.0


def on_pi() -> bool:
    try:
        return "Raspberry Pi" in PI_MODEL.read_text(errors="replace")
    except OSError:
        return False


def check_disk(config: cfg.Config) -> Check:
    path = config.state_path
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_mb = usage.free / 1024**2
    detail = f"{path}: {free_mb:,.0f} MB free of {usage.total / 1024**2:,.0f} MB"
    if not path.exists():
        detail += " (not created yet)"
    hint = "free space: sudo journalctl --vacuum-size=100M; lower history.retention_days"
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, detail, hint)
    if usage.free < DISK_WARN_BYTES:
        return Check("disk", WARN, detail, hint)
    return Check("disk", OK, detail)


def check_temperature(thermal: Path = THERMAL) -> Check:
    temp_c = cpu_temperature_c(thermal)
    if temp_c is None:
        return Check("temp", SKIP, f"no CPU temperature ({thermal} unreadable)")
    detail = f"CPU {temp_c:.1f} °C"
    hint = "add a heatsink or a fan, give the case some air"
    if temp_c >= TEMP_FAIL_C:
        return Check("temp", FAIL, detail + " (throttling)", hint)
    if temp_c >= TEMP_WARN_C:
        return Check("temp", WARN, detail, hint)
    return Check("temp", OK, detail)


def parse_throttled(text: str) -> Check:
    """`vcgencmd get_throttled` output ('throttled=0x50005') → a check."""
    try:
        return throttle_check(int(text.strip().split("=", 1)[1], 16))
    except (IndexError, ValueError):
        return Check("power", WARN, f"cannot read {text.strip()!r}")


def throttle_check(flags: int) -> Check:
    now, past = throttle_reasons(flags)
    hint = "use the official power supply and a short cable; cool the Pi"
    if now:
        return Check("power", FAIL, f"throttled=0x{flags:x}: {', '.join(now)}", hint)
    if past:
        return Check("power", WARN, f"throttled=0x{flags:x}: {', '.join(past)} since boot", hint)
    return Check("power", OK, "no under-voltage or throttling since boot")


def check_throttling(
    run: Callable[[list[str]], str] | None = None, sysfs: Path = THROTTLED
) -> Check:
    """The firmware's flags from sysfs, as the daemon reads them; else from `vcgencmd`."""
    flags = throttled_flags(sysfs) if run is None else None
    if flags is not None:
        return throttle_check(flags)
    vcgencmd = shutil.which("vcgencmd")
    if run is None and vcgencmd is None:
        return Check("power", SKIP, f"no {sysfs} and no vcgencmd")

    def default_run(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
        return done.stdout

    try:
        return parse_throttled((run or default_run)([vcgencmd or "vcgencmd", "get_throttled"]))
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("power", SKIP, f"vcgencmd get_throttled failed: {exc}")
