"""Fault injection: camera, audio, disk and signals against the real daemon; fuzzed inputs.

Each test is bounded in time. The camera faults use an injected live-camera source in process
(its frames are real replay frames); everything else runs the real `python -m moodpi run`.

The disk faults need a file system that refuses root: chmod does not stop root, so the daemon runs
in a private mount namespace (`unshare -m`) where its state directory is a read-only bind mount
(EROFS) or a small tmpfs that the test fills up (ENOSPC). Both are real kernel refusals; the tests
skip where mount namespaces are not allowed.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from moodpi import config as config_mod
from moodpi.app import EX_UNAVAILABLE, Daemon
from moodpi.cli.config import toml_value
from moodpi.link.commands import validate_command
from moodpi.link.mqtt import MqttLink
from moodpi.perception.sources.base import CameraError, SourceBase
from moodpi.perception.sources.replay import ReplaySource
from moodpi.system.status_reader import read_status
from moodpi.types import COMMAND_NAMES, Frame
from tests.support.broker import Broker, mosquitto_binary
from tests.support.daemon import REPO, daemon_command, daemon_env, run_daemon
from tests.support.pace import seconds

STOP_LIMIT_S = 5.0


# ---------------------------------------------------------------------------------------------
# Helpers


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + seconds(timeout_s)
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class DaemonProc:
    """`python -m moodpi run ...` with its output in files, and a bounded SIGTERM stop."""

    def __init__(
        self, tmp_path: Path, args: list[str], prefix: list[str] | None = None, **env: str
    ):
        self.tmp_path = tmp_path
        self.events = tmp_path / "events.jsonl"
        self.stderr_path = tmp_path / "daemon.err"
        self.env = daemon_env(tmp_path, RUNTIME_DIRECTORY=str(tmp_path / "run"), **env)
        command = (prefix or []) + daemon_command("run", "--events-jsonl", str(self.events), *args)
        self._err = open(self.stderr_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command, env=self.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=self._err
        )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def status(self) -> dict[str, Any]:
        return read_status(self.tmp_path / "run" / "status.json").data or {}

    def moods(self) -> list[dict[str, Any]]:
        return [e for e in read_events(self.events) if e["type"] == "mood"]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, pid: int | None = None) -> tuple[int, float]:
        """SIGTERM (to `pid`, default the child); (exit code, seconds until it exited)."""
        os.kill(pid or self.proc.pid, signal.SIGTERM)
        started = time.monotonic()
        try:
            code = self.proc.wait(timeout=seconds(15))
        except subprocess.TimeoutExpired:
            code = -999
        return code, time.monotonic() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._err.close()


@pytest.fixture
def daemons() -> Iterator[Callable[..., DaemonProc]]:
    started: list[DaemonProc] = []

    def start(*args: Any, **kwargs: Any) -> DaemonProc:
        started.append(DaemonProc(*args, **kwargs))
        return started[-1]

    yield start
    for d in started:
        d.stop()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def journal_snapshot(db: Path) -> tuple[str, dict[str, int]]:
    """(PRAGMA integrity_check, rows per table), read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()
    return check, counts


# ---------------------------------------------------------------------------------------------
# Camera


class FlakyCamera(SourceBase):
    """A live camera (not a replay: the capture thread retries it) serving real replay frames.

    After `good_frames` frames the device vanishes mid-read; the next `failed_opens` opens fail;
    then it comes back with a few garbage frames (wrong dtype, shape, type) before good ones.
    """

    GARBAGE: tuple[Any, ...] = (
        Frame(np.zeros((480, 640), np.float32), 0.0, 0),
        "not a frame",
        Frame(np.zeros((4, 4), np.uint8), 0.0, 0),
        Frame(np.zeros((480, 640, 3), np.uint8), 0.0, 0),
        None,
    )

    def __init__(self, frames: Path, good_frames: int = 15, failed_opens: int = 2) -> None:
        super().__init__()
        self._replay = ReplaySource(frames, fps=10.0, loop=True)
        self._good_left = good_frames
        self._failed_opens = failed_opens
        self._garbage = list(self.GARBAGE)
        self.phase = "good"
        self.opens: list[float] = []
        self.crashed_at = 0.0
        self.recovered_at = 0.0

    def describe(self) -> str:
        return "flaky test camera"

    def start(self) -> None:
        self.opens.append(time.monotonic())
        if self.phase == "down":
            if self._failed_opens > 0:
                self._failed_opens -= 1
                raise CameraError("no camera at /dev/video0")
            self.phase = "garbage"
        self._replay.start()

    def read(self, timeout_s: float) -> Any:
        time.sleep(0.02)  # a live camera's pace
        if self.phase == "good" and self._good_left == 0:
            self.phase, self.crashed_at = "down", time.monotonic()
            raise OSError("USB camera disconnected")
        if self.phase == "garbage":
            if self._garbage:
                return self._garbage.pop(0)
            self.phase, self.recovered_at = "recovered", time.monotonic()
        self._good_left -= 1
        frame = self._replay.read(timeout_s)
        # Live cameras stamp frames on the monotonic clock; a reopened replay would restart at 0.
        return None if frame is None else Frame(frame.image, time.monotonic(), frame.index)

    def stop(self) -> None:
        self._replay.stop()


@pytest.fixture
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "RUNTIME_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def test_camera_that_fails_and_sends_garbage_is_retried_with_backoff_and_resumes(
    tmp_path: Path, e2e_replay: Path, caplog: pytest.LogCaptureFixture, quiet_env: None
) -> None:
    caplog.set_level(logging.INFO)
    config = config_mod.from_dict({"state_dir": str(tmp_path / "state")})
    camera = FlakyCamera(e2e_replay / "frames")
    daemon = Daemon(config, audio=False, source_factory=lambda: camera)
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(daemon.run()))
    runner.start()
    states: set[str] = set()
    try:

        def resumed() -> bool:
            states.add((read_status(tmp_path / "state" / "status.json").data or {}).get("state"))
            return camera.phase == "recovered" and daemon.diagnostics().frames >= 15 + 20

        wait_for(resumed, 30.0, "frames after the camera recovered")
        diagnostics = daemon.diagnostics()
        last = daemon._last_obs
    finally:
        daemon.stop_event.set()
        runner.join(timeout=10)
    assert not runner.is_alive() and result == [0]
    # Logged once per outage, however many retries; then one recovery line.
    failing = [
        r
        for r in caplog.records
        if r.name == "moodpi.perception.capture" and "failing" in r.message
    ]
    assert len(failing) == 1 and failing[0].levelno == logging.WARNING
    assert sum("recovered" in r.message for r in caplog.records) == 1
    # Backoff: the gaps between reopen attempts grow (0.5 s, 1 s, 2 s).
    attempts = [camera.crashed_at, *camera.opens[1:4]]
    gaps = np.diff(attempts)
    assert len(gaps) == 3 and all(b > 1.5 * a for a, b in itertools.pairwise(gaps)), gaps
    # The diagnostics say what happened; the status file showed the outage.
    assert diagnostics.camera_reconnects == 1
    assert diagnostics.frames_bad >= 4
    assert {"degraded", "running"} <= states
    # Classifying again: faces found on the frames after recovery.
    assert last is not None and last.predictions


def test_camera_gone_past_the_deadline_exits_69(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_daemon(
        tmp_path,
        "--source",
        "v4l2:/dev/moodpi-no-such-camera",
        timeout_s=60,
        MOODPI__CAMERA__LOST_DEADLINE_S="1",
    )
    assert result.returncode == EX_UNAVAILABLE == 69, result.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert "camera gone for more than 1 s" in result.stderr
    assert result.stderr.count("failing:") == 1  # retries are not logged at warning level
    # Its last status says why it stopped, and `moodpi status` says it instead of "running".
    last = json.loads((tmp_path / "state" / "status.json").read_text())
    assert last["state"] == "stopped" and last["stop"]["exit_status"] == 69
    assert last["stop"]["reason"].startswith("camera gone for more than 1 s: ")
    assert "moodpi-no-such-camera" in last["stop"]["reason"]  # the camera's own error
    status = subprocess.run(
        daemon_command("status"),
        env=daemon_env(tmp_path),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=seconds(60),
    )
    assert status.returncode == 3, status.stdout + status.stderr
    head = status.stdout.splitlines()[0]
    assert "camera gone for more than 1 s" in head and head.endswith("(exit 69)")


# ---------------------------------------------------------------------------------------------
# Audio


class SlowReplay(ReplaySource):
    """The e2e replay at about 60 frames/s of wall time, so the player gets to act on moods."""

    def read(self, timeout_s: float) -> Frame | None:
        time.sleep(0.015)
        return super().read(timeout_s)


def test_corrupt_empty_and_vanished_tracks_are_skipped_never_fatal(
    tmp_path: Path,
    e2e_replay: Path,
    music_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    quiet_env: None,
) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    music = tmp_path / "music"
    shutil.copytree(music_root, music)
    # Broken before the scan: the scan must pass over them.
    (music / "happy" / "garbage.wav").write_bytes(
        b"RIFF\x00\x10\x00\x00WAVEjunk" + os.urandom(4000)
    )
    (music / "happy" / "empty.mp3").write_bytes(b"")
    events_path = tmp_path / "events.jsonl"
    config = config_mod.from_dict(
        {
            "state_dir": str(tmp_path / "state"),
            "music": {"root": str(music), "fade_ms": 200},
            "mood": {"absent_after_s": 2.0},
        }
    )
    happy = sorted((music / "happy").glob("happy_*.wav"))

    def break_library_then_open_camera() -> SlowReplay:
        # After the scan listed them: the tracks are corrupted, emptied or removed before play.
        happy[0].write_bytes(os.urandom(8000))
        for path in happy[1:]:
            path.write_bytes(b"")
        for path in (music / "surprise").iterdir():
            path.unlink()
        return SlowReplay(e2e_replay / "frames", fps=10.0)

    daemon = Daemon(
        config,
        events_jsonl=str(events_path),
        audio=True,
        source_factory=break_library_then_open_camera,
    )
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(daemon.run()))
    runner.start()
    runner.join(timeout=seconds(60))
    if runner.is_alive():
        daemon.stop_event.set()
        runner.join(timeout=10)
        pytest.fail(f"the daemon did not finish the replay in {seconds(60):.0f} s")
    assert result == [0]
    events = read_events(events_path)
    moods = [e["emotion"] for e in events if e["type"] == "mood"]
    assert moods[:2] == ["happy", "surprise"], moods
    skipped = {
        (Path(e["path"]).parent.name, e["reason"].split(":")[0])
        for e in events
        if e["type"] == "track_skipped"
    }
    # Skipped tracks are excluded and the next one tried, so every broken one gets its turn.
    assert {("happy", "cannot play"), ("happy", "empty file")} <= skipped, skipped
    assert ("surprise", "missing file") in skipped, skipped
    assert not any(e["type"] == "track_started" and "garbage" in e["path"] for e in events)


def test_no_audio_device_degrades_to_silence(
    tmp_path: Path, e2e_replay: Path, music_root: Path
) -> None:
    config = write_config(
        tmp_path, f'[music]\nroot = "{music_root}"\n[mood]\nabsent_after_s = 2.0\n'
    )
    events = tmp_path / "events.jsonl"
    result = run_daemon(
        tmp_path,
        "--config",
        str(config),
        "--source",
        f"replay:{e2e_replay / 'frames'}",
        "--events-jsonl",
        str(events),
        SDL_AUDIODRIVER="moodpi-no-such-driver",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no audio device" in result.stderr
    seen = read_events(events)
    assert any(e["type"] == "mood" for e in seen)
    assert any(e["type"] == "error" and e.get("component") == "audio" for e in seen)
    started = [e for e in seen if e["type"] == "track_started"]
    assert started and not any(e["audio"] for e in started)  # reported, played silently


# ---------------------------------------------------------------------------------------------
# Disk: a read-only or full state directory, for root too


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        timeout=10,
    )
    return probe.returncode == 0


needs_mount_ns = pytest.mark.skipif(
    not _namespaces_work(), reason="needs root and mount namespaces (unshare -m) to fail writes"
)

# In a private mount namespace: make $0 read-only for everyone, root included, then run the daemon.
READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
# A small tmpfs at $0 (ENOSPC once full); the daemon runs as a child, and on its exit what the
# tmpfs holds is copied to $KEEP (the namespace and its tmpfs vanish with this shell).
SMALL_TMPFS = 'mount -t tmpfs -o size=8m tmpfs "$0" && "$@"; rc=$?; cp -a "$0"/. "$KEEP"/; exit $rc'


def journal_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line and "journal" in line]


@needs_mount_ns
def test_read_only_state_dir_keeps_the_pipeline_and_the_old_journal(
    tmp_path: Path, e2e_replay: Path, daemons: Callable[..., DaemonProc]
) -> None:
    state = tmp_path / "state"
    first = run_daemon(tmp_path, "--source", f"replay:{e2e_replay / 'frames'}")
    assert first.returncode == 0, first.stderr[-2000:]
    db = state / "journal.sqlite3"
    check, before = journal_snapshot(db)
    assert check == "ok" and before["events"] > 0

    d = daemons(
        tmp_path,
        ["--source", f"replay:{e2e_replay / 'frames'}"],
        prefix=["unshare", "-m", "sh", "-c", READ_ONLY, str(state)],
    )
    code = d.proc.wait(timeout=seconds(120))
    assert code == 0, d.stderr[-3000:]
    assert d.moods(), "no mood published with a read-only state dir"
    errors = journal_errors(d.stderr)
    assert len(errors) == 1, errors  # loudly, once: not once per event
    assert "readonly database" in errors[0]  # SQLite's word for EROFS
    check, after = journal_snapshot(db)
    assert check == "ok" and after == before


@pytest.mark.slow
@needs_mount_ns
def test_full_disk_mid_run_fails_journal_writes_once_and_keeps_publishing(
    tmp_path: Path, e2e_replay: Path, daemons: Callable[..., DaemonProc]
) -> None:
    state, keep = tmp_path / "state", tmp_path / "kept"
    state.mkdir()
    keep.mkdir()
    d = daemons(
        tmp_path,
        ["--source", f"replay:{e2e_replay / 'frames'}", "--loop"],
        prefix=["unshare", "-m", "sh", "-c", SMALL_TMPFS, str(state)],
        KEEP=str(keep),
    )
    wait_for(lambda: len(d.moods()) >= 3, 60, "moods before the disk fills")
    daemon_pid = wait_for(lambda: _child_pid(d.proc.pid), 10, "the daemon under the shell")
    journaled_before = d.moods()[0]["seq"]
    filler = Path(f"/proc/{daemon_pid}/root{state}/filler")
    _fill(filler)  # the daemon's tmpfs, seen through its mount namespace
    moods_at_full = len(d.moods())
    wait_for(
        lambda: d.status().get("mqtt", {}).get("journal_healthy") is False, 20, "a failed write"
    )
    wait_for(lambda: len(d.moods()) >= moods_at_full + 3, 30, "moods while the disk is full")
    assert d.alive()
    filler.unlink()  # room again: the journal recovers by itself
    wait_for(lambda: d.status().get("mqtt", {}).get("journal_healthy") is True, 20, "recovery")
    code, took_s = d.terminate(daemon_pid)
    assert code == 0 and took_s < STOP_LIMIT_S, d.stderr[-3000:]
    assert len(journal_errors(d.stderr)) == 1, journal_errors(d.stderr)
    assert "writable again" in d.stderr
    check, counts = journal_snapshot(keep / "journal.sqlite3")
    assert check == "ok" and counts["events"] > 0
    conn = sqlite3.connect(f"file:{keep / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        seqs = {r[0] for r in conn.execute("SELECT seq FROM events WHERE type = 'mood'")}
    finally:
        conn.close()
    assert journaled_before in seqs


def _child_pid(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _fill(path: Path) -> None:
    chunk = b"\0" * 65536
    with open(path, "wb") as f:
        try:
            for _ in range(10_000):  # 640 MB at most: far more than the 8 MB tmpfs
                f.write(chunk)
                f.flush()
        except OSError:
            return
    raise AssertionError("the tmpfs never filled up")


# ---------------------------------------------------------------------------------------------
# Signals: SIGTERM at awkward moments exits 0 within 5 s


def test_sigterm_during_a_long_fade(
    tmp_path: Path, e2e_replay: Path, music_root: Path, daemons: Callable[..., DaemonProc]
) -> None:
    config = write_config(tmp_path, f'[music]\nroot = "{music_root}"\nfade_ms = 30000\n')
    d = daemons(
        tmp_path,
        ["--config", str(config), "--source", f"replay:{e2e_replay / 'frames'}", "--loop"],
        SDL_DISKAUDIOFILE="/dev/null",
    )
    wait_for(lambda: d.status().get("now_playing"), 60, "a track playing")
    started = [e for e in read_events(d.events) if e["type"] == "track_started"]
    # Fading in (or across) over 15-30 s: the SIGTERM lands in the middle of it.
    assert started and started[-1]["fade_in_ms"] >= 15000, started
    code, took_s = d.terminate()
    assert code == 0 and took_s < STOP_LIMIT_S, (code, took_s, d.stderr[-3000:])


@pytest.fixture(scope="session")
def big_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Many tiny valid WAV files: a first scan that takes seconds."""
    import wave

    root = tmp_path_factory.mktemp("big-library")
    template = root / "template.wav"
    with wave.open(str(template), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    data = template.read_bytes()
    template.unlink()
    for category in ("happy", "sad", "surprise", "neutral"):
        folder = root / category
        folder.mkdir()
        for i in range(2500):
            (folder / f"{category}_{i:05d}.wav").write_bytes(data)
    return root


def test_sigterm_during_a_library_scan(
    tmp_path: Path, e2e_replay: Path, big_library: Path, daemons: Callable[..., DaemonProc]
) -> None:
    config = write_config(tmp_path, f'[music]\nroot = "{big_library}"\n')
    d = daemons(
        tmp_path,
        ["--config", str(config), "--source", f"replay:{e2e_replay / 'frames'}", "--loop"],
        SDL_DISKAUDIOFILE="/dev/null",
    )
    # build_perception logs this line just before the music stage scans the (empty-cache) library.
    wait_for(lambda: "perception:" in d.stderr, 60, "the models loaded")
    time.sleep(0.3)
    assert "music library:" not in d.stderr, "the scan finished too early to be interrupted"
    code, took_s = d.terminate()
    assert code == 0 and took_s < STOP_LIMIT_S, (code, took_s, d.stderr[-3000:])
    assert "library scan stopped early" in d.stderr  # SIGTERM ended the scan, not its end


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed")
def test_sigterm_during_an_mqtt_reconnect(
    tmp_path: Path, e2e_replay: Path, daemons: Callable[..., DaemonProc]
) -> None:
    broker = Broker(tmp_path / "broker").start()
    try:
        config = write_config(
            tmp_path,
            f'device_id = "faults"\n[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n',
        )
        d = daemons(
            tmp_path,
            ["--config", str(config), "--source", f"replay:{e2e_replay / 'frames'}", "--loop"],
        )
        wait_for(lambda: d.status().get("mqtt", {}).get("connected") is True, 60, "connected")
        broker.kill()
        wait_for(lambda: d.status().get("mqtt", {}).get("connected") is False, 20, "disconnected")
        time.sleep(1.5)  # inside the reconnect backoff
        code, took_s = d.terminate()
    finally:
        broker.kill()
    assert code == 0 and took_s < STOP_LIMIT_S, (code, took_s, d.stderr[-3000:])


# ---------------------------------------------------------------------------------------------
# Fuzzing. tests/e2e/test_mqtt.py already fuzzes parse_command (300 examples) and
# tests/unit/config/test_loading.py fuzzes config trees, env overrides (550 examples); here: the
# MQTT message handler with any topic against the running music state, and the loader on TOML
# text from a file.


@pytest.fixture(scope="module")
def live_music(
    e2e_replay: Path, music_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A real Jukebox (silent player thread, real library) that commands act on."""
    from moodpi.events import EventHub
    from moodpi.music.jukebox import Jukebox

    tmp = tmp_path_factory.mktemp("fuzz-music")
    config = config_mod.from_dict(
        {"state_dir": str(tmp / "state"), "music": {"root": str(music_root), "fade_ms": 0}}
    )
    jukebox = Jukebox(config, EventHub(), audio=False, clock=time.monotonic)
    jukebox.start()
    try:
        yield jukebox
    finally:
        jukebox.stop()


def _link(on_command: Callable[[Any], None]) -> MqttLink:
    cfg = config_mod.from_dict({"mqtt": {"host": "127.0.0.1"}}).mqtt
    return MqttLink(
        cfg,
        device_id="fuzz",
        device_name="fuzz",
        version="0",
        outbox=None,
        on_command=on_command,
        password=None,
        command_rate_per_s=1e9,  # the rate limit is tested elsewhere; here every message counts
        command_burst=10**9,
        rediscovery_delay_s=(3600.0, 3600.0),
    )


_BASE = "moodpi/fuzz"
_topics = st.one_of(
    st.text(max_size=60),
    st.sampled_from(COMMAND_NAMES).map(lambda c: f"{_BASE}/cmd/{c}"),
    st.text(max_size=30).map(lambda s: f"{_BASE}/cmd/{s}"),
    st.just("homeassistant/status"),
)
_payloads = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [b"ON", b"off", b"42", b"-1", b"100.5", b"1e3", b"mirror", b"PRESS", b"online"]
    ),
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
)
FUZZ_MQTT_EXAMPLES = 500


def _music_state(jukebox: Any) -> tuple[Any, Any]:
    state = jukebox.state()
    return state.policy, state.volume


# Plausible commands too, so that accepted ones are exercised against the live state.
_messages = st.one_of(
    st.tuples(_topics, _payloads, st.booleans()),
    st.tuples(
        st.sampled_from(COMMAND_NAMES).map(lambda c: f"{_BASE}/cmd/{c}"),
        st.sampled_from(
            [b"0", b"55", b"100", b"101", b" 7.5 ", b'"iso"', b"mirror", b"UPLIFT", b"ON", b""]
        ),
        st.just(False),
    ),
)


@settings(
    max_examples=FUZZ_MQTT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(message=_messages)
def test_fuzz_mqtt_messages_never_raise_and_invalid_ones_change_nothing(
    live_music: Any, message: tuple[str, bytes, bool]
) -> None:
    topic, payload, retain = message
    received: list[Any] = []
    link = _link(received.append)
    before = _music_state(live_music)
    msg = SimpleNamespace(topic=topic, payload=payload, retain=retain)
    link._handle_message(None, None, msg)  # paho's callback, unguarded: nothing may escape
    prefix = f"{_BASE}/cmd/"
    try:
        expected = (
            validate_command(topic[len(prefix) :], payload, retain)
            if topic.startswith(prefix)
            else None
        )
    except ValueError:
        expected = None
    event("mqtt: rejected" if expected is None else f"mqtt: accepted {expected.name}")
    if expected is None:
        assert received == []
        assert _music_state(live_music) == before  # invalid input: the running state is intact
        return
    assert received == [expected]
    if expected.name in ("policy", "volume"):
        live_music.command(expected.name, expected.value)
        policy, volume = _music_state(live_music)
        assert (policy if expected.name == "policy" else volume) == expected.value


def _render_toml(tree: dict[str, Any]) -> str:
    """A TOML document: top-level scalars first, then one [table] per dict."""
    lines = [
        f"{json.dumps(k)} = {toml_value(v)}" for k, v in tree.items() if not isinstance(v, dict)
    ]
    for key, value in tree.items():
        if isinstance(value, dict):
            lines.append(f"[{json.dumps(key)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


_KEYS = sorted({part for key, _, _ in config_mod.iter_fields() for part in key.split(".")})
_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["auto", "haar", "blazeface", "largest", "mirror", "uplift", "replay:x", "-"]),
    st.lists(st.integers(), max_size=3),
)
_names = st.one_of(st.sampled_from(_KEYS), st.text(min_size=1, max_size=8))
_FIELDS = [(key, default) for key, default, _ in config_mod.iter_fields()]
# A real key with its default, a nearby number, or anything at all.
_field_values = st.sampled_from(_FIELDS).flatmap(
    lambda kd: st.tuples(
        st.just(kd[0]),
        st.one_of(
            st.just(kd[1]),
            st.just(kd[1] * 2) if isinstance(kd[1], (int, float)) else st.just(kd[1]),
            _scalars,
        ),
    )
)


def _nest(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in pairs:
        *sections, leaf = key.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    return tree


_documents = st.one_of(
    # Real keys with arbitrary values: many of these load, many are out of bounds.
    st.lists(_field_values, max_size=8).map(_nest).map(_render_toml),
    st.dictionaries(
        _names, st.one_of(_scalars, st.dictionaries(_names, _scalars, max_size=6)), max_size=6
    ).map(_render_toml),
    st.text(max_size=200),  # mostly not TOML at all
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)
FUZZ_CONFIG_EXAMPLES = 500


@pytest.fixture(scope="module")
def running_config(tmp_path_factory: pytest.TempPathFactory) -> tuple[config_mod.Config, str]:
    config = config_mod.from_dict({"mqtt": {"host": "broker"}, "music": {"policy": "uplift"}})
    return config, json.dumps(config_mod.as_dict(config), sort_keys=True)


@settings(
    max_examples=FUZZ_CONFIG_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@pytest.mark.slow
@given(text=_documents)
def test_fuzz_config_files_raise_only_config_errors_and_leave_the_running_config(
    tmp_path_factory: pytest.TempPathFactory, running_config: Any, text: str
) -> None:
    config, snapshot = running_config
    defaults = json.dumps(config_mod.as_dict(config_mod.Config()), sort_keys=True)
    path = tmp_path_factory.getbasetemp() / "fuzz.toml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        loaded = config_mod.load(path, environ={})
    except config_mod.ConfigError as exc:
        assert exc.key
        event("config: rejected, file" if exc.key == "<file>" else "config: rejected, a key")
    else:
        event("config: loaded")
        assert isinstance(loaded, config_mod.Config)
        if text.strip():
            tomllib.loads(text)  # only valid TOML may load
    # Nothing is shared and mutated: the running config and the defaults are as they were.
    assert json.dumps(config_mod.as_dict(config), sort_keys=True) == snapshot
    assert json.dumps(config_mod.as_dict(config_mod.Config()), sort_keys=True) == defaults
