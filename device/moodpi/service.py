"""systemd integration and the status channel read by `moodpi status` and `moodpi tail`.

`Notifier` speaks the sd_notify protocol (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) over
$NOTIFY_SOCKET: a few lines of socket code instead of a dependency. Without $NOTIFY_SOCKET
(not under systemd) every call is a no-op.

`StatusFile` is how the daemon explains itself over SSH: about once a second it atomically
replaces a small JSON file (`make_status` builds it). Under systemd it lives in the runtime
directory /run/moodpi (tmpfs: a write a second must not wear the SD card), else in the state
directory. Readers need no camera and no access to the daemon beyond that file; a file that
stops changing means the daemon is hung or gone, which `read_status` tells apart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from moodpi.types import EMOTIONS

log = logging.getLogger(__name__)

STATUS_NAME = "status.json"
RUN_DIR = Path("/run/moodpi")  # RuntimeDirectory=moodpi in systemd/moodpi.service
STATUS_SCHEMA = 1
STALE_AFTER_S = 5.0  # the daemon writes about once a second
# Exit statuses of `moodpi status`, as systemctl's: 3 is the LSB "program is not running".
EX_STALE = 1
EX_NOT_RUNNING = 3
EX_UNKNOWN = 4


# ---------------------------------------------------------------------------------------------
# sd_notify


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


# ---------------------------------------------------------------------------------------------
# Status file


def status_path(state_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """$RUNTIME_DIRECTORY (daemon under systemd), /run/moodpi (CLI on a device), else state dir."""
    env = os.environ if environ is None else environ
    runtime = env.get("RUNTIME_DIRECTORY")
    if runtime:
        return Path(runtime.split(":")[0]) / STATUS_NAME
    if RUN_DIR.is_dir():
        return RUN_DIR / STATUS_NAME
    return state_dir / STATUS_NAME


class StatusFile:
    """Atomically replaced JSON snapshot of what the daemon sees. Writing never raises."""

    def __init__(
        self, path: Path, mode: int = 0o640, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self._mode = mode  # group-readable: admins in group moodpi read it without sudo
        self._clock = clock
        self._warned = False

    def write(self, status: Mapping[str, Any]) -> bool:
        payload = {**status, "pid": os.getpid(), "written_at": round(self._clock(), 3)}
        tmp_name = ""
        try:
            text = json.dumps(_plain(payload), separators=(",", ":"), allow_nan=False)
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            fd, tmp_name = tempfile.mkstemp(prefix=".status.", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                os.fchmod(tmp.fileno(), self._mode)
                tmp.write(text)
            os.replace(tmp_name, self.path)  # readers see the old file or the new, never half
            tmp_name = ""
            self._warned = False
            return True
        except (OSError, TypeError, ValueError) as exc:
            if not self._warned:
                log.warning("cannot write status file %s: %s", self.path, exc)
                self._warned = True
            return False
        finally:
            if tmp_name:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)

    def remove(self) -> None:
        """On a clean stop, so that `moodpi status` says 'not running' at once."""
        with contextlib.suppress(OSError):
            self.path.unlink()


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class StatusReading:
    """What a reader found: state is running | stale | stopped | unreadable."""

    path: Path
    state: str
    age_s: float | None = None
    data: dict[str, Any] | None = None
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        age = None if self.age_s is None else round(self.age_s, 3)
        return {
            "state": self.state,
            "path": str(self.path),
            "age_s": age,
            "error": self.error,
            "status": self.data,
        }


def read_status(
    path: Path, stale_after_s: float = STALE_AFTER_S, now_s: float | None = None
) -> StatusReading:
    now_s = time.time() if now_s is None else now_s
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StatusReading(path, "stopped", error=f"no status file at {path}")
    except PermissionError:
        hint = "run with sudo, or add yourself to group moodpi"
        return StatusReading(path, "unreadable", error=f"permission denied: {path} ({hint})")
    except (OSError, UnicodeDecodeError) as exc:
        return StatusReading(path, "unreadable", error=f"cannot read {path}: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return StatusReading(path, "unreadable", error=f"{path} is not JSON: {exc}")
    if not isinstance(data, dict):
        return StatusReading(path, "unreadable", error=f"{path} does not hold a JSON object")
    written = data.get("written_at")
    # written_at is rounded to the millisecond, so a fresh file can look a hair in the future.
    age_s = (
        max(0.0, now_s - written) if isinstance(written, (int, float)) else _mtime_age(path, now_s)
    )
    if age_s is not None and age_s <= stale_after_s:
        return StatusReading(path, "running", age_s, data)
    pid = data.get("pid")
    if isinstance(pid, int) and not _pid_alive(pid):
        return StatusReading(path, "stopped", age_s, data, error=f"process {pid} is gone")
    return StatusReading(path, "stale", age_s, data, error="the daemon stopped updating its status")


def _mtime_age(path: Path, now_s: float) -> float | None:
    try:
        return now_s - path.stat().st_mtime
    except OSError:
        return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # exists, owned by the service user
    return True


def make_status(
    *,
    started_at: float,
    fps: float,
    mood: str | None,
    confidence: float | None = None,
    mood_since: str | None = None,
    presence: bool = False,
    faces: int = 0,
    probs: Mapping[str, float] | Sequence[float] | None = None,
    now_playing: Mapping[str, Any] | None = None,
    events: Iterable[Mapping[str, Any]] = (),
    state: str = "running",
    detection: bool = True,
    now_s: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The status document (schema 1). `state`: running | degraded (no camera) | paused
    (detection switched off: camera released). `probs`: smoothed, by emotion name or in EMOTIONS
    order. `events`: the most recent events, oldest first. `extra`: e.g. frames_dropped, mqtt."""
    now_s = time.time() if now_s is None else now_s
    if probs is not None and not isinstance(probs, Mapping):
        probs = dict(zip(EMOTIONS, (float(p) for p in probs), strict=False))
    return {
        "schema": STATUS_SCHEMA,
        "state": state,
        "started_at": round(started_at, 3),
        "uptime_s": round(max(0.0, now_s - started_at), 1),
        "fps": fps,
        "mood": None
        if mood is None
        else {"emotion": mood, "confidence": confidence, "since": mood_since},
        "presence": presence,
        "faces": faces,
        "detection": detection,
        "probs": dict(probs or {}),
        "now_playing": dict(now_playing) if now_playing else None,
        "events": [dict(e) for e in events],
        **extra,
    }


def status_line(status: Mapping[str, Any]) -> str:
    """One line for systemd's STATUS=: mood, presence and fps."""
    from moodpi.status_view import summary

    return summary(status)


# ---------------------------------------------------------------------------------------------
# CLI


def _status_file_for(args: argparse.Namespace) -> Path:
    from moodpi import config as cfg
    from moodpi.config_cli import config_file

    config = cfg.load(config_file(args))
    return status_path(config.state_path)


def cli_status(args: argparse.Namespace) -> int:
    from moodpi.status_view import render_status

    reading = read_status(_status_file_for(args))
    if getattr(args, "json", False):
        print(json.dumps(reading.as_json(), indent=2))
    else:
        print(render_status(reading))
    return {"running": 0, "stale": EX_STALE, "stopped": EX_NOT_RUNNING}.get(
        reading.state, EX_UNKNOWN
    )


def cli_tail(args: argparse.Namespace) -> int:
    from moodpi.status_view import run_tail

    return run_tail(_status_file_for(args), interval_s=float(getattr(args, "interval", 0.5) or 0.5))
