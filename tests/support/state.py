"""The daemon's state for tests of its views (status file, STATUS= line, MQTT state, doctor):
one `Snapshot` with every field set as a running daemon has it, any field replaced by keyword."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from moodpi.events import Event, MoodEvent, PresenceEvent
from moodpi.state import Diagnostics, MoodState, MusicState, NowPlaying, Snapshot
from moodpi.system.status import StatusFile, status_document
from moodpi.system.status_reader import StatusReading, read_status
from moodpi.types import EMOTIONS

STARTED_AT = time.time() - 3725  # one daemon instance for every state built here

FOREST = NowPlaying(title="Forest", category="calming", path="/m/calming/forest.ogg")
PLAYING = MusicState("mirror", FOREST, volume=80, player="playing", audio=True)
NO_MUSIC = MusicState("mirror", None, volume=None, player="off", audio=None)
DIAGNOSTICS = Diagnostics(
    version="1.2.3", fps=9.8, frames=120, frames_bad=0, frames_dropped=3, camera_reconnects=0,
    uptime_s=3725.0, cpu_temp_c=None, throttled=None, detect_ms=1.2, classify_ms=2.5,
)  # fmt: skip
EVENTS = (
    Event(1, 0.5, "2025-01-02T12:00:00.000Z", PresenceEvent(present=True)),
    Event(2, 2.0, "2025-01-02T12:00:02.000Z", MoodEvent("happy", 0.82)),
)


def make_snapshot(**fields: Any) -> Snapshot:
    """Happy (0.82) since 12:00:02, one face, 9.8 fps, Forest playing, two recent events."""
    values: dict[str, Any] = {
        "run_state": "running",
        "started_at": STARTED_AT,
        "mood": MoodState("happy", 0.82, since_t=2.0, since_at="2025-01-02T12:00:02.000Z"),
        "probabilities": dict(
            zip(EMOTIONS, (0.01, 0.0, 0.02, 0.82, 0.05, 0.03, 0.07), strict=True)
        ),
        "presence": True,
        "faces": 1,
        "detection": True,
        "music": PLAYING,
        "diagnostics": DIAGNOSTICS,
        "link": {"enabled": False},
        "recent_events": EVENTS,
    }
    values.update(fields)
    return Snapshot(**values)


def written_status(**fields: Any) -> dict[str, Any]:
    """The status document the daemon writes for `make_snapshot()`, any field replaced as another
    version of moodpi might write it."""
    return {**status_document(make_snapshot()), **fields}


def read_back(tmp_path: Path, status: dict[str, Any]) -> StatusReading:
    """`status` written to a status file in tmp_path, and read back as `moodpi status` reads it."""
    path = tmp_path / "status.json"
    StatusFile(path).write(status)
    return read_status(path)


def state_dir_config(tmp_path: Path) -> Path:
    """A config file whose state_dir (where the status file lives) is tmp_path/state."""
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    return path
