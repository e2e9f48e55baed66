"""The status file: how the daemon explains itself over SSH.

About once a second the daemon atomically replaces a small JSON document (`make_status` builds
it). Under systemd it lives in the runtime directory /run/moodpi (tmpfs: a write a second must
not wear the SD card), else in the state directory. Readers need no camera and no access to the
daemon beyond that file; a file that stops changing means the daemon is hung or gone, which
`read_status` tells apart. Readers see a document written by another process (perhaps another
version), so the field readers below take any type and show odd values as '-'.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from moodpi.state import Snapshot
from moodpi.types import EMOTIONS

log = logging.getLogger(__name__)

STATUS_NAME = "status.json"
RUN_DIR = Path("/run/moodpi")  # RuntimeDirectory=moodpi in systemd/moodpi.service
STATUS_SCHEMA = 1
STALE_AFTER_S = 5.0  # the daemon writes about once a second


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


def status_document(snapshot: Snapshot, now_s: float | None = None) -> dict[str, Any]:
    """The status file's document for one snapshot of the daemon."""
    mood, music = snapshot.mood, snapshot.music
    return make_status(
        started_at=snapshot.started_at,
        fps=snapshot.diagnostics.fps,
        mood=mood.emotion if mood else None,
        confidence=mood.confidence if mood else None,
        mood_since=mood.since_at if mood else None,
        presence=snapshot.presence,
        faces=snapshot.faces,
        probs=snapshot.probabilities,
        now_playing=asdict(music.now_playing) if music.now_playing else None,
        events=[event.as_dict() for event in snapshot.recent_events],
        state=snapshot.run_state,
        detection=snapshot.detection,
        now_s=now_s,
        policy=music.policy,
        player=music.player,
        audio=music.audio,
        library=asdict(music.library) if music.library else None,
        diagnostics=asdict(snapshot.diagnostics),
        mqtt=snapshot.link,
        camera_in_use=snapshot.camera_in_use,
        led=snapshot.led,
        quiet_hours=asdict(snapshot.quiet_hours),
        sight=asdict(snapshot.sight) if snapshot.sight else None,
    )


# Field readers, shared by the daemon's STATUS= line and `moodpi status`


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
    title = playing.get("title") or Path(str(playing.get("path") or "?")).name
    category = playing.get("category")
    text = f"{title} [{category}]" if category else str(title)
    # the daemon plays on without a sound device (and retries it): say so where it shows
    return f"{text} (silent: no audio device)" if status.get("audio") is False else text


def presence(status: Mapping[str, Any]) -> str:
    faces = field_number(status.get("faces"))
    if not status.get("presence"):
        return "nobody"
    if faces == 0:  # presence outlasts the last face by mood.absent_after_s
        return "present, no face in view now"
    count = int(faces) if faces else 1
    return f"{count} face" + ("s" if count != 1 else "")


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
    """The one line systemd shows: 'mood happy 0.82, 1 face, 9.8 fps, playing x [calming]'."""
    emotion, confidence, _since = mood_of(status)
    parts = [f"mood {emotion}" + (f" {confidence:.2f}" if confidence is not None else "")]
    parts.append(presence(status))
    fps = field_number(status.get("fps"))
    parts.append(f"{fps:.1f} fps" if fps is not None else "- fps")
    state = status.get("state")
    if isinstance(state, str) and state != "running":
        parts.insert(0, state)
    if status.get("now_playing"):
        parts.append(f"playing {now_playing(status)}")
    return ", ".join(parts)
