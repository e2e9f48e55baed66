"""What the daemon knows right now, as one typed value read by every reporter.

The daemon builds a `Snapshot` about once a second and on every change; the MQTT state and
diagnostics (link/), the status file and systemd's STATUS= line (system/) and `moodpi status`
(which reads the status file) are all views of it. Each view turns it into JSON itself, at its
edge; the field names of those documents are contracts (docs/mqtt.md, docs/operations.md).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal

from moodpi.events import Event
from moodpi.types import Policy

# running | degraded (no camera, retried) | paused (detection off: camera released) | stopped
# (the last document a run writes, with its `Stop`)
RunState = Literal["running", "degraded", "paused", "stopped"]
# stopped | playing | pausing | paused | fading | switching (moodpi.music.player), or off
PlayerState = str


@dataclass(frozen=True)
class NowPlaying:
    title: str
    category: str
    path: str


@dataclass(frozen=True)
class LibraryState:
    """The music library and its analysis: `analysed` of `tracks` placed on the valence-arousal
    plane (`failed` could not be decoded); `running` while an analyser works, with its ETA;
    `problem`: why there is nothing to play (music.root missing or empty), None when fine.
    `unreadable`: files that cannot be played or analysed, per format, a few named by path."""

    tracks: int
    analysed: int
    failed: int
    running: bool
    eta_s: float | None
    problem: str | None = None
    unreadable: dict[str, int] = field(default_factory=dict)
    unreadable_files: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MusicState:
    """`volume` 0-100 and `audio` are None without a music library; `audio` False: no sound
    device (retried), None with --no-audio."""

    policy: Policy
    now_playing: NowPlaying | None
    volume: int | None
    player: PlayerState
    audio: bool | None
    library: LibraryState | None = None  # None: no library, or its cache not read yet


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
class Sight:
    """How far the camera sees: the smallest face found in the last `window_s` (its box width
    in a frame `frame_width_px` wide) and its estimated distance (perception.detect.geometry)."""

    smallest_face_px: int
    frame_width_px: int
    farthest_m: float
    window_s: float


@dataclass(frozen=True)
class QuietHours:
    """`privacy.quiet_hours`: the schedule, whether it is switched on (Home Assistant's switch,
    `<base>/cmd/quiet_hours`) and whether it holds the camera released right now."""

    schedule: tuple[str, ...] = ()
    enabled: bool = True
    active: bool = False


@dataclass(frozen=True)
class Stop:
    """Why a run ended, written into the last status document on the way out: `reason` in a
    person's words ("received SIGTERM", "camera gone for more than 60 s: ..."), `exit_status`
    as the unit sees it (0, 1 crash, 69 camera, 78 setup)."""

    reason: str
    exit_status: int


@dataclass(frozen=True)
class Snapshot:
    run_state: RunState
    started_at: float  # wall clock, seconds since the epoch
    mood: MoodState | None
    probabilities: dict[str, float]  # smoothed, by emotion name; empty before the first face
    presence: bool
    faces: int  # faces in view: the most frequent count of the last second (FaceCounter)
    detection: bool
    music: MusicState
    diagnostics: Diagnostics
    link: dict[str, object]  # the uplink's own health report (MQTT, journal), JSON-ready
    recent_events: tuple[Event, ...]
    camera_in_use: bool = False  # the camera device is open right now (the status LED's state)
    led: str = "none"  # the status LED (privacy.led), with why it is disabled if it is
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    sight: Sight | None = None  # None: no face found lately
    stop: Stop | None = None  # set only in the last document of a run (run_state "stopped")


class FaceCounter:
    """The number of faces in view, steady enough to show: the most frequent count among the
    frames of the last `window_s` (a tie goes to the most recent), 0 when no frame came in it.

    A detector that misses a face in one frame of ten must not make a sensor flicker; a camera
    released (detection off, quiet hours) sends no frames, so the count falls to 0 within
    `window_s`. `now` is passed in: seconds on any monotonic clock.
    """

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, count: int, now: float) -> None:
        self._samples.append((now, max(0, count)))
        self._forget(now)

    def count(self, now: float) -> int:
        self._forget(now)
        if not self._samples:
            return 0
        frequency = Counter(n for _, n in self._samples)
        latest = {n: i for i, (_, n) in enumerate(self._samples)}
        return max(frequency, key=lambda n: (frequency[n], latest[n]))

    def _forget(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self.window_s:
            self._samples.popleft()
