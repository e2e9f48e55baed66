"""What the daemon has seen of the frames: their clock, how many, how fast, how many faces
and how far. Fed by the main loop, read by the reporters."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from moodpi import __version__
from moodpi.perception.annotate import drawn
from moodpi.perception.detect.geometry import Reach
from moodpi.state import Diagnostics, FaceCounter
from moodpi.system.board import cpu_temperature_c, throttled_flags
from moodpi.system.snapshot_socket import SnapshotUnavailable
from moodpi.types import Frame, Observation


class FrameLog:
    def __init__(self, hfov_deg: float) -> None:
        self.t0: float | None = None
        self.clock_t = 0.0  # frame-clock seconds since the first frame
        self.frames = 0
        self.frames_bad = 0  # frames the pipeline refused
        self._walls: deque[float] = deque(maxlen=50)
        self.last_wall = 0.0
        self.faces = FaceCounter()
        self.reach = Reach(hfov_deg)
        self.hfov_deg = hfov_deg
        self.last: tuple[Frame, Observation] | None = None  # for `moodpi snapshot`, in memory

    def clock(self, frame_t: float) -> float:
        """The frame's time on the run's clock (the first frame at 0)."""
        if self.t0 is None:
            self.t0 = frame_t
        self.clock_t = frame_t - self.t0
        return self.clock_t

    def add(self, frame: Frame, obs: Observation, now: float) -> None:
        self.last = (frame, obs)
        self.frames += 1
        self._walls.append(now)
        self.last_wall = now
        self.faces.add(obs.faces_seen, now)
        self.reach.add_faces(list(obs.faces), frame.image.shape[1], now)

    def fps(self) -> float:
        walls = self._walls
        if len(walls) < 2 or walls[-1] == walls[0]:
            return 0.0
        return (len(walls) - 1) / (walls[-1] - walls[0])

    def annotated(self, kind: str, camera_open: bool) -> tuple[dict[str, Any], bytes]:
        """The newest frame, annotated, for the snapshot socket (main loop)."""
        if not camera_open:
            raise SnapshotUnavailable("the camera is released (detection off or quiet hours)", True)
        if self.last is None:
            raise SnapshotUnavailable("no frame yet: the camera has not delivered one")
        frame, obs = self.last
        shows, image = drawn(frame.image, obs, self.hfov_deg, kind)
        return {**shows, "age_s": round(time.monotonic() - self.last_wall, 2)}, image

    def diagnostics(
        self, capture: dict[str, Any], timings: dict[str, float], uptime_s: float
    ) -> Diagnostics:
        return Diagnostics(
            version=__version__,
            fps=round(self.fps(), 2),
            frames=self.frames,
            frames_bad=self.frames_bad + capture.get("frames_bad", 0),
            frames_dropped=capture.get("frames_dropped", 0),
            camera_reconnects=capture.get("reconnects", 0),
            uptime_s=round(uptime_s, 1),
            cpu_temp_c=cpu_temperature_c(),
            throttled=throttled_flags(),
            detect_ms=timings.get("detect_ms", 0.0),
            classify_ms=timings.get("classify_ms", 0.0),
        )
