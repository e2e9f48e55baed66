"""What the daemon knows right now, as one typed value read by every reporter.

The daemon builds a `Snapshot` about once a second and on every change; the MQTT state and
diagnostics (link/), the status file and systemd's STATUS= line (system/) and `moodpi status`
(which reads the status file) are all views of it. Each view turns it into JSON itself, at its
edge; the field names of those documents are contracts (docs/mqtt.md, docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from moodpi.events import Event
from moodpi.types import Policy

# running | degraded (no camera, retried) | paused (detection off: camera released)
RunState = Literal["running", "degraded", "paused"]
# stopped | playing | pausing | paused | fading | switching (moodpi.music.player), or off
PlayerState = str


@dataclass(frozen=True)
class NowPlaying:
    title: str
    category: str
    path: str


@dataclass(frozen=True)
class MusicState:
    """`volume` 0-100 and `audio` are None without a music library; `audio` False: no sound
    device (retried), None with --no-audio."""

    policy: Policy
    now_playing: NowPlaying | None
    volume: int | None
    player: PlayerState
    audio: bool | None


@dataclass(frozen=True)
class MoodState:
    """The published mood; `since_t` on the frame clock, `since_at` the mood event's wall time."""

    emotion: str
    confidence: float
    since_t: float
    since_at: str | None


@dataclass(frozen=True)
class Diagnostics:
    version: str
    fps: float
    frames: int
    frames_bad: int
    frames_dropped: int
    camera_reconnects: int
    uptime_s: float
    cpu_temp_c: float | None
    throttled: int | None
    detect_ms: float
    classify_ms: float


@dataclass(frozen=True)
class Snapshot:
    run_state: RunState
    started_at: float  # wall clock, seconds since the epoch
    mood: MoodState | None
    probabilities: dict[str, float]  # smoothed, by emotion name; empty before the first face
    presence: bool
    faces: int  # in the latest classified frame
    detection: bool
    music: MusicState
    diagnostics: Diagnostics
    link: dict[str, object]  # the uplink's own health report (MQTT, journal), JSON-ready
    recent_events: tuple[Event, ...]
