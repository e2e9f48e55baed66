"""`moodpi run`: wiring and lifecycle of the daemon.

Threads: the camera's capture thread hands over frames (newest only for live cameras, every frame
for a replay run as fast as possible); this main loop detects, classifies and debounces; the
player and MQTT have threads of their own and talk back through bounded queues. Every wait is
bounded and every loop checks the stop event, so SIGTERM ends the run within a second or two.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from moodpi import __version__
from moodpi.config import EX_CONFIG, Config, ConfigError
from moodpi.events import Event, EventHub, JsonlSink, MoodEvent, PresenceEvent
from moodpi.link.commands import Command
from moodpi.link.uplink import Uplink
from moodpi.mood import MoodTracker
from moodpi.music.jukebox import MusicStage, NoMusic, music_stage
from moodpi.perception.annotate import drawn
from moodpi.perception.capture import CaptureThread
from moodpi.perception.detect.geometry import Reach
from moodpi.perception.pipeline import Perception, build_perception
from moodpi.perception.sources import CameraError, FrameSource, open_source
from moodpi.state import Diagnostics, FaceCounter, MoodState, RunState, Snapshot, Stop
from moodpi.system.board import cpu_temperature_c, throttled_flags
from moodpi.system.notify import Notifier
from moodpi.system.privacy import Privacy
from moodpi.system.snapshot_socket import SnapshotServer, SnapshotUnavailable, snapshot_socket_path
from moodpi.system.status import StatusFile, status_document, status_line, status_path
from moodpi.types import EMOTIONS, Frame, MoodChange, Observation, PresenceChange

log = logging.getLogger(__name__)

EX_SOFTWARE = 1  # an unexpected error: systemd restarts the daemon (rate-limited by the unit)
EX_UNAVAILABLE = 69  # sysexits.h: the camera has been gone past its deadline; systemd restarts us
STATUS_PERIOD_S = 1.0
FRAME_WAIT_S = 0.2


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


class Daemon:
    """Every part is built here without I/O; `run()` starts them in order, runs the main loop and
    stops them in reverse order, whatever ended the run."""

    def __init__(
        self,
        config: Config,
        *,
        events_jsonl: str | None = None,
        audio: bool = True,
        source_factory: Callable[[], FrameSource] | None = None,
    ) -> None:
        self.config = config
        # Tests inject a misbehaving camera here; the daemon otherwise picks from camera.source.
        self._source_factory = source_factory or (
            lambda: open_source(config.camera.source, config.camera)
        )
        self.stop_event = threading.Event()
        self._stop_reason = ""  # who asked the run to end (request_stop), for the last status
        self._notifier = Notifier()
        self._status_file = StatusFile(status_path(config.state_path))
        self._commands: queue.Queue[Command] = queue.Queue(maxsize=64)
        self.uplink = Uplink(config, self._commands)  # journal, outbox, MQTT
        self.hub = EventHub(next_seq=self.uplink.next_seq, epoch=lambda: self.uplink.epoch)
        self._jsonl = JsonlSink(events_jsonl) if events_jsonl else None
        self.mood = MoodTracker(config.mood)
        self._audio = audio
        self.music: MusicStage = NoMusic(config.music)  # the music step puts the chosen one here
        self._perception: Perception | None = None  # loaded by a start step: it reads model files
        self._capture: CaptureThread | None = None
        self._detection = True
        self._t0: float | None = None
        self._clock_t = 0.0  # frame-clock seconds since the first frame
        self._frames = 0
        self._frames_bad = 0
        self._frame_walls: deque[float] = deque(maxlen=50)
        self._last_frame_wall = 0.0
        self._last_status = 0.0
        self._ready = False
        self._started = False
        self._started_wall = time.monotonic()
        self._started_at = time.time()
        self._last_obs: Observation | None = None
        self._last_frame: Frame | None = None  # for `moodpi snapshot`, in memory only
        self._snapshots = SnapshotServer(snapshot_socket_path(config.state_path), self._snapshot)
        self._mood_since: Event | None = None  # the last mood event
        self.privacy = Privacy(config.privacy)  # camera-in-use light, quiet hours
        self._face_count = FaceCounter()
        self._reach = Reach(config.camera.hfov_deg)

    @property
    def perception(self) -> Perception:
        if self._perception is None:
            raise RuntimeError("perception is loaded by run()")
        return self._perception

    # ----------------------------------------------------------------------------- lifecycle

    def run(self) -> int:
        """Start, loop until stopped or a fatal condition, stop; the exit status for the unit.
        Whatever ended the run, its last status document says `stopped` and why."""
        end = Stop("interrupted", EX_SOFTWARE)
        try:
            with contextlib.ExitStack() as running:
                running.callback(self.stop_event.set)  # the last thing, a failed start included
                device_id = self.config.effective_device_id
                log.info("moodpi %s starting (device id %s)", __version__, device_id)
                for name, start, stop in self._steps():
                    start()
                    running.callback(self._stop_quietly, name, stop)
                running.callback(self._begin_stop)  # the first thing done when the run ends
                self._started = True
                end = self._loop()
        except Exception as exc:
            end = ending(exc)
        finally:
            self._status_file.write_last(self.snapshot, end, self._started_at)
            log.info("stopped after %d frames: %s", self._frames, end.reason)
        return end.exit_status

    def request_stop(self, reason: str) -> None:
        """End the run (a signal handler's way); the first reason given is the one reported."""
        self._stop_reason = self._stop_reason or reason
        self.stop_event.set()

    def _steps(self) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
        """(name, start, stop) in start order; a run stops them in reverse."""
        return [
            ("systemd notifier", self._notifier.open, self._notifier.close),
            ("uplink", self.uplink.start, self.uplink.stop),
            ("event sinks", self._open_sinks, self._close_sinks),
            ("models", self._load_models, _nothing),
            ("music", self._start_music, self._stop_music),
            ("status led", self.privacy.start, self.privacy.stop),
            ("snapshot socket", self._snapshots.start, self._snapshots.stop),
            ("camera", self._start_camera, self._close_camera),
        ]

    def _begin_stop(self) -> None:
        self._notifier.stopping()
        self.stop_event.set()

    @staticmethod
    def _stop_quietly(name: str, stop: Callable[[], object]) -> None:
        try:
            stop()
        except Exception:  # one part failing to stop must not keep the others running
            log.exception("stopping %s failed", name)

    def _open_sinks(self) -> None:
        self.uplink.attach(self.hub)
        if self._jsonl is not None:
            self._jsonl.open()
            self.hub.add_sink("jsonl", self._jsonl)

    def _close_sinks(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()

    def _load_models(self) -> None:
        try:
            self._perception = build_perception(self.config)
        except (OSError, ValueError) as exc:  # a missing or unusable model file
            raise SetupError(str(exc)) from exc

    def _start_music(self) -> None:
        """Decided once: the jukebox where a library is configured, else a stage that is silent."""
        self.music = music_stage(
            self.config,
            self.hub,
            audio=self._audio,
            clock=lambda: self._clock_t,
            stop_event=self.stop_event,
        )
        self.music.start()

    def _stop_music(self) -> None:
        self.music.stop()

    def _start_camera(self) -> None:
        self._sync_camera()
        if self._capture is None:  # quiet hours: nothing to wait for before systemd's READY=1
            self._ready = True
            self._notifier.ready("paused: quiet hours")

    def _sync_camera(self) -> None:
        """Open the camera exactly while detection is on and quiet hours do not hold it."""
        wanted = self._detection and not self.privacy.quiet_now()
        if wanted and self._capture is None:
            self._open_camera()
        elif not wanted and self._capture is not None:
            self._close_camera()  # privacy: the camera is released, not just ignored

    def _open_camera(self) -> None:
        source = self._source_factory()
        lossless = source.is_replay and not self.config.camera.realtime
        # A gap of a few frame periods is normal at low fps; only longer silences count as failures.
        frame_timeout_s = max(self.config.camera.timeout_s, 3.0 / self.config.camera.fps)
        self._capture = CaptureThread(
            source,
            lossless=lossless,
            stop_event=self.stop_event,
            frame_timeout_s=frame_timeout_s,
            on_open=self.privacy.light.opened,  # the LED follows the device
            on_close=self.privacy.light.closed,
        )
        self._capture.start()

    def _close_camera(self) -> None:
        if self._capture is not None:
            self._capture.stop()
            # Kept past the release: a replay's bad frames still count in the final status.
            self._frames_bad += int(self._capture.stats().get("frames_bad", 0))
            self._capture = None
            self._last_frame = None  # released means released: no old frame to hand out

    # ----------------------------------------------------------------------------- main loop

    def _loop(self) -> Stop:
        while not self.stop_event.is_set():
            self._drain_commands()
            self._snapshots.poll()
            self.music.poll()
            frame = self._capture.get(FRAME_WAIT_S) if self._capture else None
            if frame is not None:
                self._process(frame)
            elif self._capture is None:
                self.stop_event.wait(FRAME_WAIT_S)  # detection off: camera released, idle
            elif self._capture.ended:
                if self._capture.fatal_error is not None:
                    log.error("replay failed: %s", self._capture.fatal_error)
                    return Stop(f"replay failed: {self._capture.fatal_error}", EX_UNAVAILABLE)
                log.info("replay ended")
                return Stop("replay ended", 0)
            elif self._capture.failing_since is not None and not self._ready:
                self._ready = True  # degraded: MQTT, music and status work; the camera is retried
                log.warning("ready without a camera: %s", self._capture.last_error)
                self._notifier.ready("degraded: no camera")
            elif self._camera_lost_too_long():
                gone = f"camera gone for more than {self.config.camera.lost_deadline_s:.0f} s"
                log.error("%s: exiting for a restart", gone)
                return Stop(f"{gone}: {self._capture.last_error}", EX_UNAVAILABLE)
            self.music.tick(self._clock_t, self.mood.pending)
            self._periodic()
        return Stop(self._stop_reason or "asked to stop", 0)

    def _process(self, frame: Any) -> None:
        if self._t0 is None:
            self._t0 = frame.t
        self._clock_t = frame.t - self._t0
        try:
            seen = self.perception.observe(frame)
        except ValueError as exc:
            self._frames_bad += 1
            log.debug("frame %d skipped: %s", frame.index, exc)
            return
        obs = dataclasses.replace(seen, t=self._clock_t)
        self._last_obs, self._last_frame = obs, frame
        self._frames += 1
        now = time.monotonic()
        self._frame_walls.append(now)
        self._last_frame_wall = now
        self._face_count.add(obs.faces_seen, now)
        self._reach.add_faces(list(obs.faces), frame.image.shape[1], now)
        for change in self.mood.update(obs):
            self._on_change(change)
        if not self._ready:
            self._ready = True
            log.info("ready: first frame classified %.2f s after start", now - self._started_wall)
            self._notifier.ready()

    def _on_change(self, change: MoodChange | PresenceChange) -> None:
        if isinstance(change, MoodChange):
            mood = MoodEvent(emotion=change.emotion, confidence=round(change.confidence, 3))
            self._mood_since = self.hub.emit(mood, change.t)
            self.music.on_mood(change)
        else:
            self.hub.emit(PresenceEvent(present=change.present), change.t)
            self.music.on_presence(change)
        self.uplink.publish_state(self.snapshot())

    def _camera_lost_too_long(self) -> bool:
        return (
            self._capture is not None
            and self._capture.failing_for_s() > self.config.camera.lost_deadline_s
        )

    def _snapshot(self, kind: str) -> tuple[dict[str, Any], bytes]:
        """The newest frame, annotated, for the snapshot socket (main loop)."""
        frame, obs = self._last_frame, self._last_obs
        if self._capture is None:
            raise SnapshotUnavailable("the camera is released (detection off or quiet hours)", True)
        if frame is None or obs is None:
            raise SnapshotUnavailable("no frame yet: the camera has not delivered one")
        shows, image = drawn(frame.image, obs, self.config.camera.hfov_deg, kind)
        return {**shows, "age_s": round(time.monotonic() - self._last_frame_wall, 2)}, image

    # ----------------------------------------------------------------------------- commands

    def _drain_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                self._apply_command(command.name, command.value)
            except Exception:
                log.exception("command %s failed", command.name)

    def _apply_command(self, name: str, value: Any) -> None:
        log.info("command: %s %s", name, value)
        if name == "detection":
            self._detection = bool(value)
        elif name == "quiet_hours":
            self.privacy.quiet_enabled = bool(value)
        else:
            self.music.command(name, value)
        self._sync_camera()  # detection and quiet hours decide whether the camera is open
        self.uplink.publish_state(self.snapshot())

    # ----------------------------------------------------------------------------- reporting

    def _periodic(self) -> None:
        now = time.monotonic()
        if self._pipeline_alive(now):
            self._notifier.watchdog(now)
        if now - self._last_status >= STATUS_PERIOD_S:
            self._last_status = now
            self._sync_camera()  # quiet hours begin and end on the minute
            snapshot = self.snapshot()
            self._write_status(snapshot)
            self._notifier.status(status_line(snapshot))
            self.uplink.tick(snapshot)

    def _pipeline_alive(self, now: float) -> bool:
        """Ping the watchdog while frames flow, or during a known outage within its deadline."""
        if self._capture is None:
            return True
        if self._capture.failing_since is not None:
            return True
        return now - self._last_frame_wall < max(2 * self.config.camera.timeout_s, 2.0)

    def fps(self) -> float:
        walls = self._frame_walls
        if len(walls) < 2 or walls[-1] == walls[0]:
            return 0.0
        return (len(walls) - 1) / (walls[-1] - walls[0])

    def snapshot(self) -> Snapshot:
        """What the daemon knows now: every reporter (MQTT, status file, systemd) reads this."""
        current, smoothed = self.mood.current, self.mood.smoothed
        mood = None
        if current is not None:
            since_at = self._mood_since.at if self._mood_since else None
            mood = MoodState(current.emotion, round(current.confidence, 3), current.t, since_at)
        probabilities: dict[str, float] = (
            {e: round(float(p), 3) for e, p in zip(EMOTIONS, smoothed, strict=True)}
            if smoothed is not None
            else {}
        )
        return Snapshot(
            run_state=self._run_state(),
            started_at=self._started_at,
            mood=mood,
            probabilities=probabilities,
            presence=self.mood.present,
            faces=self._face_count.count(time.monotonic()),
            detection=self._detection,
            music=self.music.state(),
            diagnostics=self.diagnostics(),
            link=self.uplink.health(),
            recent_events=tuple(self.hub.recent),
            camera_in_use=self.privacy.camera_in_use,
            led=self.privacy.led_state(),
            quiet_hours=self.privacy.quiet_state(),
            sight=self._reach.sight(time.monotonic()),
        )

    def diagnostics(self) -> Diagnostics:
        capture = self._capture.stats() if self._capture else {}
        timings = self._perception.timings() if self._perception is not None else {}
        return Diagnostics(
            version=__version__,
            fps=round(self.fps(), 2),
            frames=self._frames,
            frames_bad=self._frames_bad + capture.get("frames_bad", 0),
            frames_dropped=capture.get("frames_dropped", 0),
            camera_reconnects=capture.get("reconnects", 0),
            uptime_s=round(time.monotonic() - self._started_wall, 1),
            cpu_temp_c=cpu_temperature_c(),
            throttled=throttled_flags(),
            detect_ms=timings.get("detect_ms", 0.0),
            classify_ms=timings.get("classify_ms", 0.0),
        )

    def _write_status(self, snapshot: Snapshot | None = None) -> None:
        self._status_file.write(status_document(snapshot or self.snapshot()))

    def _run_state(self) -> RunState:
        if not self._detection or self.privacy.quiet_now():
            return "paused"
        if self._capture is not None and self._capture.failing_since is not None:
            return "degraded"
        return "running"


def _nothing() -> None:
    pass
