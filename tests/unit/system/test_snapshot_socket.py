"""The snapshot socket between `moodpi snapshot` and the daemon's main loop: a real UNIX socket,
the server polled the way the main loop polls it, the client in a thread of its own."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from moodpi.system.snapshot_socket import (
    SnapshotServer,
    SnapshotUnavailable,
    ask_daemon,
    snapshot_socket_path,
)
from tests.support.pace import seconds

IMAGE = bytes(range(256)) * 1000  # 256 kB: more than one socket buffer's worth


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    run = tmp_path / "run"
    run.mkdir(mode=0o750)
    yield run / "snapshot.sock"


def _serve_while(server: SnapshotServer, ask: Callable[[], Any]) -> Any:
    """Run `ask` (the command) in a thread while this thread polls like the main loop."""
    answer: dict[str, Any] = {}

    def client() -> None:
        try:
            answer["value"] = ask()
        except Exception as exc:  # handed to the test
            answer["error"] = exc

    thread = threading.Thread(target=client)
    thread.start()
    while thread.is_alive():
        server.poll()
        thread.join(0.01)
    if "error" in answer:
        raise answer["error"]
    return answer["value"]


def test_the_command_gets_the_frame_and_what_it_shows(sock_path: Path) -> None:
    asked: list[str] = []

    def render(kind: str) -> tuple[dict[str, Any], bytes]:
        asked.append(kind)
        return {"width": 640, "height": 480, "faces": [{"x": 1, "emotion": "happy"}]}, IMAGE

    server = SnapshotServer(sock_path, render)
    server.start()
    try:
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
        assert stat.S_IMODE(os.lstat(sock_path).st_mode) == 0o660
        header, image = _serve_while(server, lambda: ask_daemon(sock_path, "png", seconds(10)))
        assert image == IMAGE and asked == ["png"]
        assert header == {"ok": True, "width": 640, "height": 480, "bytes": len(IMAGE),
                          "faces": [{"x": 1, "emotion": "happy"}]}  # fmt: skip
    finally:
        server.stop()
    assert not sock_path.exists()
    assert ask_daemon(sock_path, "jpg") is None  # no daemon: the command opens the camera


def test_a_daemon_without_a_frame_says_why(sock_path: Path) -> None:
    reasons = iter([SnapshotUnavailable("the camera is released", released=True),
                    SnapshotUnavailable("no frame yet")])  # fmt: skip

    def render(kind: str) -> tuple[dict[str, Any], bytes]:
        raise next(reasons)

    server = SnapshotServer(sock_path, render)
    server.start()
    try:
        released = _serve_while(server, lambda: ask_daemon(sock_path, "jpg", seconds(10)))
        waiting = _serve_while(server, lambda: ask_daemon(sock_path, "jpg", seconds(10)))
    finally:
        server.stop()
    assert released == ({"ok": False, "error": "the camera is released", "released": True}, b"")
    assert waiting == ({"ok": False, "error": "no frame yet", "released": False}, b"")


def test_nonsense_and_silent_clients_do_not_stop_the_next_one(sock_path: Path) -> None:
    server = SnapshotServer(sock_path, lambda kind: ({"width": 1}, b"img"))
    server.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as rude:
            rude.settimeout(seconds(10))
            rude.connect(str(sock_path))
            rude.sendall(b"GET / HTTP/1.0\n")
            server.poll()
            assert b"unknown request" in rude.recv(4096)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
            silent.connect(str(sock_path))
            server.poll()  # gives up on it after its read timeout, never raises
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as huge:
            huge.connect(str(sock_path))
            huge.sendall(b"snapshot " + b"x" * 10_000 + b"\n")
            server.poll()
        assert _serve_while(server, lambda: ask_daemon(sock_path, "jpg", seconds(10)))[1] == b"img"
    finally:
        server.stop()


def test_a_stale_socket_is_replaced_and_a_live_one_left_alone(sock_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a daemon killed with -9
    stale.bind(str(sock_path))
    stale.close()
    assert ask_daemon(sock_path, "jpg") is None  # refused: nobody listens
    first = SnapshotServer(sock_path, lambda kind: ({"who": "first"}, b""))
    first.start()
    second = SnapshotServer(sock_path, lambda kind: ({"who": "second"}, b""))
    second.start()  # another daemon on the same folder: it must not steal the socket
    try:
        second.poll()
        first.poll()  # the second's probe, answered and dropped
        header, _ = _serve_while(first, lambda: ask_daemon(sock_path, "jpg", seconds(10)))
        assert header["who"] == "first"
    finally:
        second.stop()
        first.stop()


def test_no_socket_where_it_cannot_be_made_and_the_daemon_runs_on(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    server = SnapshotServer(blocked / "snapshot.sock", lambda kind: ({}, b""))
    server.start()  # logs, never raises
    server.poll()
    server.stop()
    assert blocked.read_text() == ""


def test_the_socket_sits_beside_the_status_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    assert snapshot_socket_path(tmp_path / "state") == tmp_path / "run" / "snapshot.sock"
