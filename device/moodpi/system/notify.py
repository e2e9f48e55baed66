"""systemd integration: the sd_notify protocol (READY=1, STATUS=, WATCHDOG=1, STOPPING=1).

A few lines of socket code over $NOTIFY_SOCKET instead of a dependency. Without $NOTIFY_SOCKET
(not under systemd) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from types import TracebackType

log = logging.getLogger(__name__)


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """How often to ping: half of $WATCHDOG_USEC, or None when systemd set no watchdog for us."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None  # meant for another process (e.g. the one that exec'd us)
    return usec / 2 / 1_000_000


class Notifier:
    """sd_notify over an AF_UNIX datagram socket; '@name' is the abstract namespace."""

    def __init__(
        self,
        address: str | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._address = address
        self._environ = environ
        self._clock = clock
        self._sock: socket.socket | None = None
        self._target: str | bytes | None = None
        self._watchdog_every_s: float | None = None
        self._last_ping_s: float | None = None
        self._last_status: str | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    @property
    def watchdog_every_s(self) -> float | None:
        return self._watchdog_every_s

    def open(self) -> None:
        env = os.environ if self._environ is None else self._environ
        address = self._address if self._address is not None else env.get("NOTIFY_SOCKET", "")
        self._watchdog_every_s = watchdog_interval_s(env)
        if not address:
            return
        if address.startswith("@"):
            self._target = "\0" + address[1:]
        elif address.startswith("/"):
            self._target = address
        else:  # e.g. 'vsock:' (systemd 253+ in VMs): not a case for a camera appliance
            log.warning("unsupported NOTIFY_SOCKET address %r; not notifying systemd", address)
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        sock.settimeout(1.0)  # systemd reads at once; never let a full queue stall the main loop
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, *assignments: str) -> bool:
        """Send 'KEY=value' lines in one datagram. False when disabled or sending failed."""
        if self._sock is None or self._target is None:
            return False
        payload = "\n".join(a.replace("\n", " ") for a in assignments).encode("utf-8", "replace")
        try:
            self._sock.sendto(payload, self._target)
        except OSError as exc:
            if not self._warned:  # once: a vanished socket must not flood the journal
                log.warning("cannot notify systemd: %s", exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """READY=1: the first frame is classified (or startup is done, degraded)."""
        fields = ["READY=1"] + ([f"STATUS={status}"] if status else [])
        if status:
            self._last_status = status
        return self.send(*fields)

    def status(self, text: str) -> bool:
        """STATUS=: the line `systemctl status moodpi` shows. Unchanged text is not resent."""
        if text == self._last_status:
            return True
        self._last_status = text
        return self.send(f"STATUS={text}")

    def watchdog(self, now_s: float | None = None) -> bool:
        """WATCHDOG=1 from the main loop; call it every iteration, it sends only when due."""
        now_s = self._clock() if now_s is None else now_s
        every_s = self._watchdog_every_s if self._watchdog_every_s is not None else 1.0
        if self._last_ping_s is not None and now_s - self._last_ping_s < every_s:
            return False
        sent = self.send("WATCHDOG=1")
        if sent:
            self._last_ping_s = now_s
        return sent

    def extend_timeout(self, seconds: float) -> bool:
        """EXTEND_TIMEOUT_USEC=: more time for a slow start (model load on a Pi Zero)."""
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))
