"""The real daemon end to end on a replay of real faces: events, SDL-rendered music, lifecycle."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from moodpi.types import EMOTIONS
from tests.support.daemon import REPO, daemon_command, daemon_env, run_daemon
from tests.support.pace import seconds


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_config(tmp_path: Path, music_root: Path | None, extra: str = "") -> Path:
    music = f'[music]\nroot = "{music_root}"\nfade_ms = 300\n' if music_root else ""
    path = tmp_path / "config.toml"
    path.write_text(f"{music}\n[mood]\nabsent_after_s = 2.0\n{extra}")
    return path


@pytest.fixture(scope="module")
def e2e_run(e2e_replay: Path, music_root: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("e2e")
    config = write_config(tmp_path, music_root)
    events_path = tmp_path / "events.jsonl"
    result = run_daemon(
        tmp_path,
        "--config",
        str(config),
        "--source",
        f"replay:{e2e_replay / 'frames'}",
        "--events-jsonl",
        str(events_path),
    )
    return result, read_events(events_path) if events_path.exists() else [], tmp_path


def test_replay_runs_to_the_end_and_exits_zero(e2e_run) -> None:
    result, events, _ = e2e_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert events, "no events written"


def test_events_are_numbered_timestamped_and_well_formed(e2e_run) -> None:
    _, events, _ = e2e_run
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for event in events:
        assert {"type", "seq", "t", "at"} <= event.keys()
        assert event["at"].endswith("Z")
        if event["type"] == "mood":
            assert event["emotion"] in EMOTIONS
            assert 0.0 <= event["confidence"] <= 1.0
        if event["type"] == "presence":
            assert isinstance(event["present"], bool)


def test_moods_follow_the_faces_on_the_replay(e2e_run, e2e_replay: Path) -> None:
    _, events, _ = e2e_run
    truth = json.loads((e2e_replay / "truth.json").read_text())
    moods = [e for e in events if e["type"] == "mood"]
    assert moods, "no mood published"
    # Each face segment's mood in force at its end matches the truth (happy and surprise are the
    # classes the model separates best).
    for segment in truth["segments"]:
        if segment["emotion"] is None:
            continue
        in_force = [m for m in moods if m["t"] <= segment["end_s"]]
        assert in_force and in_force[-1]["emotion"] == segment["emotion"], (segment, moods)
    # The empty stretch turns presence off and the next face turns it on again.
    presence = [e["present"] for e in events if e["type"] == "presence"]
    assert presence[:3] == [True, False, True]


def test_matching_music_is_played_and_rendered(e2e_run) -> None:
    _, events, tmp_path = e2e_run
    started = [e for e in events if e["type"] == "track_started"]
    assert started, "no track started"
    assert any(Path(e["path"]).parent.name == "happy" for e in started)
    samples = np.fromfile(tmp_path / "audio.raw", dtype=np.int16)
    assert samples.size > 0 and np.abs(samples).max() > 1000, "SDL rendered silence"


def test_runs_without_config_music_or_broker(tmp_path: Path, e2e_replay: Path) -> None:
    result = run_daemon(
        tmp_path, "--source", f"replay:{e2e_replay / 'frames'}", "--events-jsonl", "-"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert any(e["type"] == "mood" for e in lines)


def test_bad_config_exits_78_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[mood]\nmin_dwell_s = -3\n")
    result = run_daemon(tmp_path, "--config", str(config))
    assert result.returncode == 78
    assert "mood.min_dwell_s" in result.stderr


def test_sigterm_stops_cleanly_within_5_s(
    tmp_path: Path, e2e_replay: Path, music_root: Path
) -> None:
    config = write_config(tmp_path, music_root)
    proc = subprocess.Popen(
        daemon_command(
            "run",
            "--config",
            str(config),
            "--source",
            f"replay:{e2e_replay / 'frames'}",
            "--realtime",
            "--loop",
        ),
        env=daemon_env(tmp_path),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: (tmp_path / "state" / "status.json").exists(), 60)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(timeout=seconds(10))
        assert code == 0, proc.stderr.read()[-3000:] if proc.stderr else ""
        assert time.monotonic() - started < 5.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The last status says it stopped, and why; `moodpi status` says so instead of "running".
    last = json.loads((tmp_path / "state" / "status.json").read_text())
    assert last["state"] == "stopped"
    assert last["stop"] == {"reason": "received SIGTERM", "exit_status": 0}
    status = moodpi_status(tmp_path, config)
    assert status.returncode == 3  # LSB "not running"
    assert "ago: received SIGTERM (exit 0)" in status.stdout.splitlines()[0]
    assert "state:          stopped" in status.stdout


def moodpi_status(tmp_path: Path, config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`moodpi status` as a person types it, in the daemon's environment (its state dir)."""
    return subprocess.run(
        daemon_command("status", "--config", str(config)),
        env=daemon_env(tmp_path, **env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=seconds(60),
    )


def _wait_for(predicate, timeout_s: float) -> None:
    deadline = time.monotonic() + seconds(timeout_s)
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _notify_socket(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.5)
    return sock


def _notified_enough(messages: list[str]) -> bool:
    return (
        "READY=1" in messages
        and messages.count("WATCHDOG=1") >= 5
        and any(m.startswith("STATUS=") for m in messages)
    )


def _collect(sock: socket.socket, until: float) -> list[str]:
    messages: list[str] = []
    while time.monotonic() < until and not _notified_enough(messages):
        try:
            messages.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
    return messages


def test_notifies_systemd_ready_status_and_watchdog(tmp_path: Path, e2e_replay: Path) -> None:
    sock = _notify_socket(tmp_path)
    env = daemon_env(tmp_path, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="1000000")
    proc = subprocess.Popen(
        daemon_command(
            "run", "--source", f"replay:{e2e_replay / 'frames'}", "--realtime", "--loop"
        ),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        messages = _collect(sock, time.monotonic() + 20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=seconds(10)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    assert "READY=1" in messages
    assert messages.count("WATCHDOG=1") >= 5
    assert any(m.startswith("STATUS=") and "fps" in m for m in messages)


def test_missing_model_exits_78_and_says_which_file(tmp_path: Path, e2e_replay: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[emotion]\nmodel = "no_such_model.tflite"\n')
    result = run_daemon(
        tmp_path, "--config", str(config), "--source", f"replay:{e2e_replay / 'frames'}"
    )
    assert result.returncode == 78
    assert "no_such_model.tflite" in result.stderr


def test_unreadable_replay_exits_69_with_the_path(tmp_path: Path) -> None:
    result = run_daemon(tmp_path, "--source", f"replay:{tmp_path / 'nothing-here'}")
    assert result.returncode == 69
    assert "nothing-here" in result.stderr
