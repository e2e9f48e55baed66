"""`moodpi snapshot`: the one command that writes an image, and only where asked."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from tests.support.daemon import REPO, daemon_command, daemon_env
from tests.support.pace import seconds

FACES = REPO / "tests" / "fixtures" / "faces"


def test_snapshot_writes_an_annotated_frame_with_the_face_boxed(
    tmp_path: Path, e2e_replay: Path
) -> None:
    out = tmp_path / "snap.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodpi",
            "snapshot",
            str(out),
            "--source",
            f"replay:{e2e_replay / 'frames'}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "1 face" in result.stdout
    image = cv2.imread(str(out))
    assert image is not None and image.ndim == 3
    # The box is drawn in green on a grey frame: some pixels must be strongly green.
    green = (image[:, :, 1] > 150) & (image[:, :, 0] < 60) & (image[:, :, 2] < 60)
    assert green.sum() > 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.png"]


def test_snapshot_refuses_unknown_image_types(tmp_path: Path, e2e_replay: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodpi",
            "snapshot",
            str(tmp_path / "x.gif"),
            "--source",
            f"replay:{e2e_replay / 'frames'}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        cwd=REPO,
    )
    assert result.returncode == 64
    assert not (tmp_path / "x.gif").exists()


# ---------------------------------------------------------------------------------------------
# From the running daemon, over its snapshot socket


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + seconds(timeout_s)
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.1)


def _frames(status: Path) -> int:
    try:
        return int(json.loads(status.read_text())["diagnostics"]["frames"])
    except (OSError, ValueError, KeyError):
        return 0


def test_snapshot_asks_the_running_daemon_which_keeps_running(tmp_path: Path) -> None:
    from moodpi.lab.replaygen import load_fixture_faces, make_labelled_replay

    replay = tmp_path / "replay"  # one happy face throughout: every frame has a face to box
    make_labelled_replay(load_fixture_faces(FACES), replay, fps=10.0, segments=[("happy", 3.0)],
                         seed=5)  # fmt: skip
    state = tmp_path / "run"  # as systemd makes it: RuntimeDirectory=moodpi, mode 0750
    state.mkdir(mode=0o750)
    env = daemon_env(tmp_path, RUNTIME_DIRECTORY=str(state))
    with (tmp_path / "daemon.err").open("w") as err:
        daemon = subprocess.Popen(
            daemon_command("run", "--source", f"replay:{replay / 'frames'}", "--realtime",
                           "--loop", "--no-audio"),
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        sock = state / "snapshot.sock"
        _wait_for(lambda: sock.exists() and _frames(state / "status.json") > 5, 60, "daemon up")
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660  # the service's user and group
        assert stat.S_IMODE(state.stat().st_mode) == 0o750  # others cannot even reach it
        out = tmp_path / "placed.jpg"
        result = subprocess.run(daemon_command("snapshot", str(out)), capture_output=True,
                                text=True, timeout=seconds(60), cwd=REPO, env=env)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "the running daemon's newest frame" in result.stdout
        assert "1 face" in result.stdout and "happy" in result.stdout, result.stdout
        assert result.stderr == ""
        assert out.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, as asked by the name
        image = cv2.imread(str(out))
        green = (image[:, :, 1] > 150) & (image[:, :, 0] < 60) & (image[:, :, 2] < 60)
        assert green.sum() > 200  # the face boxed and labelled
        # The daemon goes on: alive, still counting frames, and it wrote no image anywhere.
        frames = _frames(state / "status.json")
        _wait_for(lambda: _frames(state / "status.json") > frames + 5, 30, "frames after")
        assert daemon.poll() is None
        written = [p for p in tmp_path.rglob("*") if replay not in p.parents and p.is_file()]
        assert [p for p in written if p.suffix in (".jpg", ".png", ".bmp")] == [out]
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=seconds(20))
    assert code == 0, (tmp_path / "daemon.err").read_text()[-3000:]
    assert not (state / "snapshot.sock").exists()  # removed on the way out
    # The daemon is not quieted: its journal keeps what the libraries say.
    assert "XNNPACK" in (tmp_path / "daemon.err").read_text()


def test_snapshot_opens_the_camera_itself_when_no_daemon_answers(
    tmp_path: Path, e2e_replay: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # left by a daemon killed -9
    stale.bind(str(state / "snapshot.sock"))
    stale.close()
    out = tmp_path / "snap.png"
    env = daemon_env(tmp_path, MOODPI__CAMERA__SOURCE=f"replay:{e2e_replay / 'frames'}")
    result = subprocess.run(daemon_command("snapshot", str(out)), capture_output=True, text=True,
                            timeout=seconds(60), cwd=REPO, env=env)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"replay:{e2e_replay / 'frames'}" in result.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
