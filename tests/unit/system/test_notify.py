"""sd_notify over a real datagram socket: READY, STATUS, WATCHDOG, STOPPING, and its interval."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodpi.system.notify import Notifier, watchdog_interval_s


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
