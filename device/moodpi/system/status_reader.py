"""Reading the status file back: `moodpi status`, `moodpi tail`, `moodpi doctor`, the soak test.

A file that stops changing means the daemon is hung or gone, which `read_status` tells apart.
Readers see a document written by another process, perhaps another version, so the field
readers below take any type and show odd values as '-', never a traceback in an SSH session.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodpi.system.status import line_text, playing_text, presence_text

STALE_AFTER_S = 5.0  # the daemon writes about once a second


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
    age_s = _age(data.get("written_at"), path, now_s)
    if data.get("state") == "stopped":  # the run's last document: it ended, and says why
        return StatusReading(path, "stopped", age_s, data, error=stop_text(data))
    if age_s is not None and age_s <= stale_after_s:
        return StatusReading(path, "running", age_s, data)
    pid = data.get("pid")
    if isinstance(pid, int) and not _pid_alive(pid):
        gone = f"process {pid} ended without saying why (killed?)"
        return StatusReading(path, "stopped", age_s, data, error=gone)
    return StatusReading(path, "stale", age_s, data, error="the daemon stopped updating its status")


def stop_text(status: Mapping[str, Any]) -> str:
    """'received SIGTERM (exit 0)' from the last document of a run; any type, any version."""
    stop = field_dict(status.get("stop"))
    reason, code = stop.get("reason"), field_number(stop.get("exit_status"))
    text = reason if isinstance(reason, str) and reason else "it did not say why"
    return text + (f" (exit {int(code)})" if code is not None else "")


def _age(written: Any, path: Path, now_s: float) -> float | None:
    # written_at is rounded to the millisecond, so a fresh file can look a hair in the future.
    if isinstance(written, (int, float)) and not isinstance(written, bool):
        return max(0.0, now_s - written)
    return _mtime_age(path, now_s)


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


# Field readers: any type in, text or None out


def field_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def field_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def mood_of(status: Mapping[str, Any]) -> tuple[str, float | None, str | None]:
    """(emotion or '-', confidence, since) from 'mood': {...} or a bare name."""
    mood = status.get("mood")
    if isinstance(mood, str):
        return mood, None, None
    mood = field_dict(mood)
    emotion = mood.get("emotion")
    since = mood.get("since")
    return (
        emotion if isinstance(emotion, str) else "-",
        field_number(mood.get("confidence")),
        since if isinstance(since, str) else None,
    )


def now_playing(status: Mapping[str, Any]) -> str:
    playing = status.get("now_playing")
    if isinstance(playing, str):
        return playing
    playing = field_dict(playing)
    if not playing:
        return "nothing"
    return playing_text(
        playing.get("title"), playing.get("path"), playing.get("category"), status.get("audio")
    )


def presence(status: Mapping[str, Any]) -> str:
    return presence_text(status.get("presence"), field_number(status.get("faces")))


def camera(status: Mapping[str, Any]) -> str:
    """'in use', 'released (quiet hours 22:00-07:00)', ... from a status document; '-' if older."""
    in_use = status.get("camera_in_use")
    if not isinstance(in_use, bool):
        return "-"
    quiet = field_dict(status.get("quiet_hours"))
    schedule = ", ".join(str(s) for s in quiet.get("schedule") or [] if isinstance(s, str))
    if in_use:
        return "in use"
    if quiet.get("active"):
        return f"released (quiet hours {schedule})"
    if status.get("detection") is False:
        return "released (detection off)"
    return "released"


def sight(status: Mapping[str, Any]) -> str:
    """'faces to about 3.1 m (smallest 24 px of 640, last 10 min)' or 'no face lately'."""
    seen = field_dict(status.get("sight"))
    farthest, face_px = (
        field_number(seen.get("farthest_m")),
        field_number(seen.get("smallest_face_px")),
    )
    if farthest is None or face_px is None:
        return "no face found lately" if "sight" in status else "-"
    frame_px = field_number(seen.get("frame_width_px"))
    window = field_number(seen.get("window_s"))
    of = f" of {int(frame_px)}" if frame_px else ""
    lately = f", last {int(window // 60)} min" if window else ""
    return f"faces to about {farthest:.1f} m (smallest {int(face_px)} px{of}{lately})"


def summary(status: Mapping[str, Any]) -> str:
    """The line systemd shows (status.status_line), read back from a document of any version."""
    emotion, confidence, _since = mood_of(status)
    state = status.get("state")
    return line_text(
        state if isinstance(state, str) else None,
        emotion,
        confidence,
        presence(status),
        field_number(status.get("fps")),
        now_playing(status) if status.get("now_playing") else None,
    )
