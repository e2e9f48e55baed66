"""The status file: how the daemon explains itself over SSH, and the line systemd shows.

About once a second the daemon atomically replaces a small JSON document (docs/operations.md),
built straight from its `Snapshot` by `status_document`. Under systemd it lives in the runtime
directory /run/moodpi (tmpfs: a write a second must not wear the SD card), else in the state
directory. `status_line` is the one-line summary for systemd's STATUS=; `moodpi tail` prints the
same line read back from the file (status_reader.py, which reads documents of any version).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from moodpi.state import Snapshot, Stop

log = logging.getLogger(__name__)

STATUS_NAME = "status.json"
RUN_DIR = Path("/run/moodpi")  # RuntimeDirectory=moodpi in systemd/moodpi.service
STATUS_SCHEMA = 1


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

    def write_last(self, snapshot: Callable[[], Snapshot], stop: Stop, started_at: float) -> None:
        """The last document of a run: `stopped` and why, even when taking the snapshot is
        what fails."""
        try:
            last = dataclasses.replace(snapshot(), run_state="stopped", stop=stop)
        except Exception:
            log.exception("cannot take the last snapshot")
            self.write(stopped_document(stop, started_at))
            return
        self.write(status_document(last))

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


def status_document(snapshot: Snapshot, now_s: float | None = None) -> dict[str, Any]:
    """The status document (schema 1) for one snapshot of the daemon. `state`: running |
    degraded (no camera) | paused (detection switched off: camera released) | stopped (the last
    document of a run, `stop` saying why); `probs`: smoothed, by emotion name; `events`: the most
    recent events, oldest first."""
    now_s = time.time() if now_s is None else now_s
    mood, music = snapshot.mood, snapshot.music
    return {
        "schema": STATUS_SCHEMA,
        "state": snapshot.run_state,
        "started_at": round(snapshot.started_at, 3),
        "uptime_s": round(max(0.0, now_s - snapshot.started_at), 1),
        "fps": snapshot.diagnostics.fps,
        "mood": None
        if mood is None
        else {"emotion": mood.emotion, "confidence": mood.confidence, "since": mood.since_at},
        "presence": snapshot.presence,
        "faces": snapshot.faces,
        "detection": snapshot.detection,
        "probs": dict(snapshot.probabilities),
        "now_playing": asdict(music.now_playing) if music.now_playing else None,
        "events": [event.as_dict() for event in snapshot.recent_events],
        "policy": music.policy,
        "player": music.player,
        "audio": music.audio,
        "library": asdict(music.library) if music.library else None,
        "diagnostics": asdict(snapshot.diagnostics),
        "mqtt": snapshot.link,
        "camera_in_use": snapshot.camera_in_use,
        "led": snapshot.led,
        "quiet_hours": asdict(snapshot.quiet_hours),
        "sight": asdict(snapshot.sight) if snapshot.sight else None,
        "stop": asdict(snapshot.stop) if snapshot.stop else None,
    }


def stopped_document(stop: Stop, started_at: float) -> dict[str, Any]:
    """The last document of a run whose state could not be read any more (the snapshot itself
    failed): only that it stopped, and why."""
    return {
        "schema": STATUS_SCHEMA,
        "state": "stopped",
        "started_at": round(started_at, 3),
        "stop": asdict(stop),
    }


def status_line(snapshot: Snapshot) -> str:
    """The one line systemd shows: 'mood happy 0.82, 1 face, 9.8 fps, playing x [calming]'."""
    mood, playing = snapshot.mood, snapshot.music.now_playing
    return line_text(
        snapshot.run_state,
        mood.emotion if mood else "-",
        mood.confidence if mood else None,
        presence_text(snapshot.presence, snapshot.faces),
        snapshot.diagnostics.fps,
        playing_text(playing.title, playing.path, playing.category, snapshot.music.audio)
        if playing
        else None,
    )


# The line's parts, said once for the daemon's typed state and for documents read back


def line_text(
    state: str | None,
    emotion: str,
    confidence: float | None,
    presence: str,
    fps: float | None,
    playing: str | None,
) -> str:
    parts = [f"mood {emotion}" + (f" {confidence:.2f}" if confidence is not None else "")]
    parts.append(presence)
    parts.append(f"{fps:.1f} fps" if fps is not None else "- fps")
    if state and state != "running":
        parts.insert(0, state)
    if playing:
        parts.append(f"playing {playing}")
    return ", ".join(parts)


def presence_text(present: object, faces: float | None) -> str:
    if not present:
        return "nobody"
    if faces == 0:  # presence outlasts the last face by mood.absent_after_s
        return "present, no face in view now"
    count = int(faces) if faces else 1
    return f"{count} face" + ("s" if count != 1 else "")


def playing_text(title: object, path: object, category: object, audio: object) -> str:
    name = title or Path(str(path or "?")).name
    text = f"{name} [{category}]" if category else str(name)
    # the daemon plays on without a sound device (and retries it): say so where it shows
    return f"{text} (silent: no audio device)" if audio is False else text
