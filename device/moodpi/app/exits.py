"""How a run ends: the exit status an error asks for, decided by its type (the unit restarts
the daemon on 1 and 69, not on 78)."""

from __future__ import annotations

import logging

from moodpi.config import EX_CONFIG, ConfigError
from moodpi.perception.sources import CameraError
from moodpi.state import Stop

log = logging.getLogger("moodpi.app")

EX_SOFTWARE = 1  # an unexpected error: systemd restarts the daemon (rate-limited by the unit)
EX_UNAVAILABLE = 69  # sysexits.h: the camera has been gone past its deadline; systemd restarts us


class SetupError(Exception):
    """The installation cannot work as configured (a missing or unusable model): restarting the
    daemon will not help, so it exits EX_CONFIG, which the unit does not restart."""


def ending(exc: BaseException) -> Stop:
    """Why an error ended a run (logged here, once) and the exit status it asks for: its type
    decides, never where it came from. Only errors of setup are final (78); a camera gone past
    its deadline asks for a restart (69); anything else is a bug or a passing fault, and exit 1
    lets systemd restart the daemon."""
    if isinstance(exc, (ConfigError, SetupError)):
        log.error("cannot start: %s", exc)
        return Stop(f"cannot start: {exc}", EX_CONFIG)
    if isinstance(exc, CameraError):
        log.error("cannot open the camera: %s", exc)
        return Stop(f"cannot open the camera: {exc}", EX_UNAVAILABLE)
    log.critical("unexpected error, exiting for a restart", exc_info=exc)
    return Stop(f"crashed: {type(exc).__name__}: {exc}", EX_SOFTWARE)
