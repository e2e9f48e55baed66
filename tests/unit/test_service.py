"""sd_notify over a real datagram socket, the status file, `moodpi status` and `moodpi tail`."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moodpi.cli.status import EX_NOT_RUNNING, render_status
from moodpi.cli.tail import TailView, run_tail
from moodpi.system.notify import Notifier, watchdog_interval_s
from moodpi.system.status import RUN_DIR, StatusFile, make_status, read_status, status_path
from moodpi.system.status import summary as status_line
from moodpi.types import EMOTIONS
from tests.support.environ import child_env

REPO = Path(__file__).resolve().parents[2]
STARTED_AT = time.time() - 3725  # one daemon instance for every status built here


# ---------------------------------------------------------------------------------------------
# sd_notify


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's, bound in tmp_path."""
    path = tmp_path / "notify.sock"
    if len(str(path)) >= 100:  # sun_path is 108 bytes
        path = Path(f"/tmp/moodpi-notify-{uuid.uuid4().hex[:8]}.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2.0)
    yield sock, str(path)
    sock.close()
    path.unlink(missing_ok=True)


def _messages(sock: socket.socket) -> list[str]:
    """Every datagram waiting now (none: an empty list)."""
    found = []
    sock.setblocking(False)
    try:
        while True:
            found.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(2.0)
    return found


def test_notifier_sends_ready_status_watchdog_stopping(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}
    with Notifier(environ=env) as notifier:
        assert notifier.enabled
        assert notifier.watchdog_every_s == 1.0
        assert notifier.ready("mood neutral, nobody, 10.0 fps")
        assert sock.recv(4096).decode() == "READY=1\nSTATUS=mood neutral, nobody, 10.0 fps"
        assert notifier.status("mood happy 0.82, 1 face, 9.8 fps")
        assert sock.recv(4096).decode() == "STATUS=mood happy 0.82, 1 face, 9.8 fps"
        notifier.status("mood happy 0.82, 1 face, 9.8 fps")  # unchanged: not resent
        assert notifier.watchdog(now_s=100.0)
        assert not notifier.watchdog(now_s=100.5)  # due every WATCHDOG_USEC / 2 = 1 s
        assert notifier.watchdog(now_s=101.0)
        assert _messages(sock) == ["WATCHDOG=1", "WATCHDOG=1"]
        notifier.status("line one\nline two")  # a newline would start a new assignment
        assert notifier.stopping("stopping")
        assert _messages(sock) == ["STATUS=line one line two", "STOPPING=1\nSTATUS=stopping"]
    assert not notifier.enabled


def test_notifier_reads_notify_socket_from_the_environment(
    notify_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    notifier = Notifier()
    assert not notifier.enabled  # nothing happens before open()
    notifier.open()
    try:
        assert notifier.ready()
        assert sock.recv(4096) == b"READY=1"
    finally:
        notifier.close()


def test_notifier_abstract_namespace() -> None:
    name = f"moodpi-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    try:
        with Notifier(environ={"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.send("READY=1", "STATUS=abstract")
        assert sock.recv(4096) == b"READY=1\nSTATUS=abstract"
    finally:
        sock.close()


def test_notifier_without_systemd_is_a_no_op() -> None:
    with Notifier(environ={}) as notifier:
        assert not notifier.enabled
        assert not notifier.ready("x")
        assert not notifier.watchdog()
        assert not notifier.stopping()


def test_notifier_survives_a_vanished_socket(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gone.sock"
    with Notifier(environ={"NOTIFY_SOCKET": str(path)}) as notifier:
        assert notifier.enabled
        assert not notifier.ready()
        assert not notifier.status("a")
        assert not notifier.status("b")
    warnings = [r for r in caplog.records if "cannot notify systemd" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per frame


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval_s(environ) == expected


# ---------------------------------------------------------------------------------------------
# The status file


def _status(**overrides: Any) -> dict[str, Any]:
    events = [
        {"type": "presence", "seq": 1, "t": 0.5, "at": "2025-01-02T12:00:00.000Z", "present": True},
        {"type": "mood", "seq": 2, "t": 2.0, "at": "2025-01-02T12:00:02.000Z", "emotion": "happy"},
    ]
    fields: dict[str, Any] = {
        "started_at": STARTED_AT,
        "fps": 9.8,
        "mood": "happy",
        "confidence": 0.82,
        "mood_since": "2025-01-02T12:00:02.000Z",
        "presence": True,
        "faces": 1,
        "probs": np.array([0.01, 0.0, 0.02, 0.82, 0.05, 0.03, 0.07], np.float32),
        "now_playing": {"title": "Forest", "category": "calming", "path": "/m/calming/forest.ogg"},
        "events": events,
        "frames_dropped": 3,
    }
    fields.update(overrides)
    return make_status(**fields)


def test_status_file_round_trip(tmp_path: Path) -> None:
    status_file = StatusFile(tmp_path / "run" / "status.json")
    assert status_file.write(_status(fps=np.float32(9.75), note=float("nan")))
    assert (tmp_path / "run" / "status.json").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["status.json"]  # no temp left
    reading = read_status(status_file.path)
    assert reading.state == "running"
    assert reading.age_s is not None and 0 <= reading.age_s < 5
    data = reading.data
    assert data is not None
    assert data["pid"] == os.getpid()
    assert data["mood"] == {
        "emotion": "happy",
        "confidence": 0.82,
        "since": "2025-01-02T12:00:02.000Z",
    }
    assert list(data["probs"]) == list(EMOTIONS)
    assert data["probs"]["happy"] == pytest.approx(0.82)
    assert data["fps"] == 9.75
    assert data["note"] is None  # NaN is not JSON
    assert data["uptime_s"] == pytest.approx(time.time() - STARTED_AT, abs=2)
    assert [e["seq"] for e in data["events"]] == [1, 2]
    assert data["frames_dropped"] == 3


def test_status_file_staleness(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    StatusFile(path, clock=lambda: 1000.0).write(_status())
    assert read_status(path, now_s=1004.0).state == "running"
    stale = read_status(path, now_s=1010.0)
    assert stale.state == "stale"  # our own pid: alive but not writing = hung
    assert stale.age_s == pytest.approx(10.0)
    assert stale.data is not None

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    payload = json.loads(path.read_text())
    payload["pid"] = int(dead.stdout)
    path.write_text(json.dumps(payload))
    assert read_status(path, now_s=1010.0).state == "stopped"  # the process is gone


def test_status_file_absent_or_garbage(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    assert read_status(path).state == "stopped"
    path.write_text("{not json")
    assert read_status(path).state == "unreadable"
    path.write_text("[1, 2]")
    assert read_status(path).state == "unreadable"


def test_status_write_failure_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    status_file = StatusFile(blocker / "status.json")  # parent is a file: cannot mkdir
    assert not status_file.write(_status())
    assert not status_file.write({"bad": object()})
    status_file.remove()  # nothing there: fine


def test_status_path_prefers_the_runtime_directory(tmp_path: Path) -> None:
    assert status_path(tmp_path, {"RUNTIME_DIRECTORY": "/run/moodpi:/run/x"}) == Path(
        "/run/moodpi/status.json"
    )
    if not RUN_DIR.is_dir():
        assert status_path(tmp_path, {}) == tmp_path / "status.json"


def test_status_line_for_systemd() -> None:
    assert status_line(_status()) == "mood happy 0.82, 1 face, 9.8 fps, playing Forest [calming]"
    assert status_line(_status(audio=False)).endswith("Forest [calming] (silent: no audio device)")
    assert status_line(_status(audio=None)).endswith("playing Forest [calming]")  # --no-audio
    assert status_line(_status(mood=None, presence=False, now_playing=None, state="degraded")) == (
        "degraded, mood -, nobody, 9.8 fps"
    )


def test_render_status_tolerates_odd_fields(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    odd = {"mood": 5, "probs": {"happy": "x", "calm": 0.5}, "events": [3, {"seq": "a"}], "fps": "?"}
    StatusFile(path).write(odd)
    text = render_status(read_status(path))
    assert "running" in text and "calm" in text


# ---------------------------------------------------------------------------------------------
# `moodpi status` in a real process


def _cli_env() -> dict[str, str]:
    return child_env(drop=("RUNTIME_DIR",))


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    return path


@pytest.mark.skipif(RUN_DIR.is_dir(), reason="a moodpi service runs on this machine")
def test_moodpi_status_json(tmp_path: Path) -> None:
    config = _config(tmp_path)
    command = [sys.executable, "-m", "moodpi", "status", "--json", "--config", str(config)]
    stopped = subprocess.run(command, capture_output=True, text=True, env=_cli_env(), timeout=60)
    assert stopped.returncode == EX_NOT_RUNNING
    assert json.loads(stopped.stdout)["state"] == "stopped"

    StatusFile(tmp_path / "state" / "status.json").write(_status())
    result = subprocess.run(command, capture_output=True, text=True, env=_cli_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["state"] == "running"
    assert report["status"]["mood"]["emotion"] == "happy"
    assert report["status"]["now_playing"]["title"] == "Forest"

    # written again: a status older than 5 s reads as stale, and starting Python can take
    # that long on a slow machine (under emulation it takes 10-20 s)
    StatusFile(tmp_path / "state" / "status.json").write(_status())
    human = subprocess.run(
        [*command[:-3], "--config", str(config)],
        capture_output=True,
        text=True,
        env=_cli_env(),
        timeout=60,
    )
    assert human.returncode == 0
    assert "mood:           happy (0.82)" in human.stdout
    assert "presence:       1 face" in human.stdout
    assert "happy" in human.stdout and "█" in human.stdout


# ---------------------------------------------------------------------------------------------
# `moodpi tail`


def _reading(tmp_path: Path, status: dict[str, Any]) -> Any:
    path = tmp_path / "status.json"
    StatusFile(path).write(status)
    return read_status(path)


def test_tail_plain_lines_show_each_event_once(tmp_path: Path) -> None:
    view = TailView()
    first = view.plain_lines(_reading(tmp_path, _status()))
    assert [line.split(" ", 2)[1] for line in first[:2]] == ["presence", "mood"]
    assert "mood happy 0.82" in first[2] and "happy=0.82" in first[2]

    events = _status()["events"] + [
        {"type": "play", "seq": 3, "at": "2025-01-02T12:00:03Z", "title": "Forest"}
    ]
    second = view.plain_lines(_reading(tmp_path, _status(events=events[1:])))
    assert len(second) == 1 and "play title=Forest" in second[0]  # seq 3 only; status unchanged

    restarted = view.plain_lines(
        _reading(tmp_path, _status(started_at=time.time(), events=events[:1]))
    )
    assert any("presence" in line for line in restarted)  # a new daemon numbers afresh


def test_tail_screen_has_a_bar_per_emotion(tmp_path: Path) -> None:
    screen = TailView(width=80, height=24).screen(_reading(tmp_path, _status()))
    bars = {
        line[1:].split()[0]: line
        for line in screen
        if line[1:].split()[:1] and line[1:].split()[0] in EMOTIONS
    }
    assert set(bars) == set(EMOTIONS)
    assert bars["happy"].startswith("▶") and bars["happy"].count("█") > bars["sad"].count("█")
    assert all(len(line) <= 80 for line in screen)
    waiting = TailView().screen(read_status(tmp_path / "none.json"))
    assert "waiting for the daemon" in waiting[0]


def test_run_tail_on_a_pipe_prints_lines(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    StatusFile(path).write(_status())
    out = io.StringIO()
    assert run_tail(path, interval_s=0.01, out=out, tty=False, max_polls=3) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # two events and one status line, each once
    assert "\x1b" not in out.getvalue()
    screen = io.StringIO()
    run_tail(path, interval_s=0.01, out=screen, tty=True, max_polls=1)
    assert "\x1b[H" in screen.getvalue() and "happy" in screen.getvalue()


@pytest.mark.skipif(RUN_DIR.is_dir(), reason="a moodpi service runs on this machine")
def test_moodpi_tail_process_exits_on_ctrl_c(tmp_path: Path) -> None:
    config = _config(tmp_path)
    StatusFile(tmp_path / "state" / "status.json").write(_status())
    # Started with SIGINT ignored, as some parents leave it (test runners, `trap '' INT`): the
    # child inherits that, and Ctrl-C must still stop it (it once hung here under xdist).
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodpi", "tail", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "moodpi tail printed nothing in 30 s"
        first = proc.stdout.readline()
        assert "presence" in first
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)  # read on while it stops: a full pipe would block its exit
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_render_status_summarises_mqtt_and_frames(tmp_path: Path) -> None:
    mqtt = {"enabled": True, "connected": False, "last_error": "refused", "outbox_backlog": 4}
    diagnostics = {"frames": 120, "frames_dropped": 2, "frames_bad": 1}
    text = render_status(
        _reading(tmp_path, _status(mqtt=mqtt, diagnostics=diagnostics, policy="uplift"))
    )
    assert "mqtt:           disconnected: refused (4 waiting in the outbox)" in text
    assert "frames:         120 (2 dropped, 1 bad)" in text
    assert "policy:         uplift" in text
    off = render_status(_reading(tmp_path, _status(mqtt={"enabled": False})))
    assert "mqtt:           off" in off


# ---------------------------------------------------------------------------------------------
# Face count, distance and how far the setup sees


@pytest.mark.parametrize(("face_px", "metres"), [(74, 1.0), (37, 2.0), (25, 3.0), (18, 4.0)])
def test_distance_from_box_width_matches_the_issue_geometry(face_px: int, metres: float) -> None:
    from moodpi.perception.geometry import distance_m, face_width_px

    # Camera Module 3 (66 degrees) in a 640 px frame: 74 px at 1 m ... 18 px at 4 m.
    assert distance_m(face_px, 640, 66.0) == pytest.approx(metres, rel=0.03)
    assert face_width_px(metres, 640, 66.0) == pytest.approx(face_px, abs=0.7)
    # The same face in a frame twice as wide is twice the pixels; a wider lens sees it smaller.
    assert distance_m(2 * face_px, 1280, 66.0) == pytest.approx(distance_m(face_px, 640, 66.0))
    assert distance_m(face_px, 640, 102.0) < distance_m(face_px, 640, 66.0)
    with pytest.raises(ValueError):
        distance_m(0, 640)


def test_face_count_is_the_most_frequent_of_the_last_second_and_falls_to_zero() -> None:
    from moodpi.snapshot import FaceCounter

    counter = FaceCounter(window_s=1.0)
    assert counter.count(0.0) == 0
    for i, n in enumerate([2, 2, 1, 2, 2, 3, 2, 2, 2, 1]):  # a detector missing one now and then
        counter.add(n, i * 0.1)
    assert counter.count(0.95) == 2
    for i in range(6):  # one person left: after half a second of 1s the count follows
        counter.add(1, 1.0 + i * 0.1)
    assert counter.count(1.55) == 1
    assert counter.count(3.0) == 0  # no frame in the last second (camera released, nobody)
    counter.add(0, 3.1)
    assert counter.count(3.1) == 0


def test_reach_keeps_the_smallest_face_of_the_last_ten_minutes_in_a_few_entries() -> None:
    from moodpi.perception.geometry import Reach
    from moodpi.types import Face

    reach = Reach(hfov_deg=66.0)
    assert reach.sight(0.0) is None
    for t in range(0, 300):  # five minutes at 1 fps: a near face, once a far one
        reach.add_faces([Face(0, 0, 80, 80), Face(0, 0, 25 if t == 100 else 60, 60)], 640, t)
    sight = reach.sight(300.0)
    assert sight is not None and (sight.smallest_face_px, sight.frame_width_px) == (25, 640)
    assert sight.farthest_m == pytest.approx(3.0, abs=0.05)
    assert len(reach._buckets) <= 11  # bounded, whatever the frame rate
    later = reach.sight(100.0 + 700.0)  # the far face is older than ten minutes now
    assert later is not None and later.smallest_face_px == 60
    reach.add(100, 1280, 900.0)  # relative to its frame: 100 of 1280 is smaller than 60 of 640
    assert reach.sight(900.0).smallest_face_px == 100  # type: ignore[union-attr]


def test_render_status_says_whether_the_camera_is_in_use_and_how_far_it_sees(
    tmp_path: Path,
) -> None:
    sight = {"smallest_face_px": 25, "frame_width_px": 640, "farthest_m": 2.96, "window_s": 600}
    quiet = {"schedule": ["22:00-07:00"], "enabled": True, "active": False}
    led = "/sys/class/leds/ACT"
    watching = _status(camera_in_use=True, led=led, sight=sight, quiet_hours=quiet)
    text = render_status(_reading(tmp_path, watching))
    assert "camera:         in use" in text
    assert "status led:     /sys/class/leds/ACT" in text
    assert "sees:           faces to about 3.0 m (smallest 25 px of 640, last 10 min)" in text
    quiet_now = _status(camera_in_use=False, sight=None, quiet_hours={**quiet, "active": True})
    text = render_status(_reading(tmp_path, quiet_now))
    assert "camera:         released (quiet hours 22:00-07:00)" in text
    assert "sees:           no face found lately" in text
    off = render_status(_reading(tmp_path, _status(camera_in_use=False, detection=False)))
    assert "camera:         released (detection off)" in off
    assert "camera:         -" in render_status(_reading(tmp_path, _status()))  # older daemon


def test_presence_without_a_face_in_view_says_so() -> None:
    assert status_line(_status(faces=0)).startswith("mood happy 0.82, present, no face in view")
    assert status_line(_status(faces=3)).startswith("mood happy 0.82, 3 faces")


def test_doctor_says_how_far_the_setup_sees(tmp_path: Path) -> None:
    from moodpi import config as config_mod
    from moodpi.cli.doctor.devices import reach

    config = config_mod.from_dict(
        {"camera": {"width": 640, "hfov_deg": 66.0}, "faces": {"min_size_px": 37}}
    )
    sight = {"smallest_face_px": 25, "frame_width_px": 640, "farthest_m": 2.96, "window_s": 600}
    text = reach(config, _reading(tmp_path, _status(sight=sight)))
    assert text.startswith("set up to find faces to about 2.0 m (640 px wide, 66°")
    assert text.endswith("daemon found faces to about 3.0 m (smallest 25 px of 640, last 10 min)")
    assert "daemon found" not in reach(config, read_status(tmp_path / "none.json"))
