"""The daemon's snapshot socket: `moodpi snapshot` asks the running daemon for one annotated
frame instead of opening the camera the daemon holds (placing the camera without stopping it).

A UNIX stream socket beside the status file: /run/moodpi/snapshot.sock under systemd
(RuntimeDirectory=moodpi, mode 0750), else in the state dir; the socket itself is 0660, so only
the service's user and group (the admins in group moodpi) can connect. Nothing listens on the
network. The daemon's main loop polls it (`SnapshotServer.poll`: a non-blocking accept, one
request at a time, every wait bounded), so the frame it draws is the loop's own newest frame,
without locks; the image goes from the daemon's memory to the asking process and is written
nowhere but the file the person named.

The protocol: the client sends one line, `snapshot jpg` or `snapshot png`; the daemon answers
one JSON line, `{"ok": true, "bytes": N, "width": .., "height": .., "age_s": .., "faces": [..]}`
followed by the N bytes of the image, or `{"ok": false, "error": "...", "released": bool}`
(released: the daemon holds no camera now, so the command may open it itself).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from moodpi.system.status import status_path

log = logging.getLogger(__name__)

SOCKET_NAME = "snapshot.sock"
SOCKET_MODE = 0o660  # the service's user and group
DIR_MODE = 0o750
KINDS = ("jpg", "png")
REQUEST_MAX_BYTES = 64
HEADER_MAX_BYTES = 64 * 1024
IMAGE_MAX_BYTES = 64 << 20  # a 4096x4096 PNG is about 50 MB; anything larger is no frame of ours
SERVE_TIMEOUT_S = 0.5  # the longest the main loop waits on one client, per read or write
ASK_TIMEOUT_S = 10.0


class SnapshotUnavailable(Exception):
    """The daemon has no frame to give: `released` when it holds no camera at all."""

    def __init__(self, reason: str, released: bool = False) -> None:
        super().__init__(reason)
        self.released = released


Render = Callable[[str], tuple[dict[str, Any], bytes]]


def snapshot_socket_path(state_dir: Path) -> Path:
    """Beside the status file, wherever that is (moodpi.system.status.status_path)."""
    return status_path(state_dir).parent / SOCKET_NAME


class SnapshotServer:
    """The listening socket, opened by `start`, polled by the main loop, removed by `stop`.
    It never raises: without it the daemon runs on, and `moodpi snapshot` opens the camera."""

    def __init__(self, path: Path, render: Render) -> None:
        self.path = path
        self._render = render
        self._sock: socket.socket | None = None

    def start(self) -> None:
        try:
            self._sock = self._listen()
        except OSError as exc:
            log.warning("no snapshot socket at %s (%s): snapshots open the camera", self.path, exc)

    def _listen(self) -> socket.socket | None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        if (mode := stat.S_IMODE(self.path.parent.stat().st_mode)) & 0o007:  # not systemd's 0750
            log.info("snapshot socket: %s is open to others (%o), the socket is not (%o)",
                     self.path.parent, mode, SOCKET_MODE)  # fmt: skip
        if _answers(self.path):
            log.warning("another daemon serves snapshots at %s: leaving it alone", self.path)
            return None
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):  # a stale one, from a daemon killed
                os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))  # under UMask=0077 it is born 0600: tighter, then opened
            os.chmod(self.path, SOCKET_MODE)
            sock.listen(2)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def poll(self) -> None:
        """Serve one waiting request, if any; returns at once when none waits."""
        if self._sock is None:
            return
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("snapshot socket: accept failed: %s", exc)
            return
        with conn:
            try:
                self._serve(conn)
            except (OSError, ValueError) as exc:  # the client left, or sent nonsense
                log.info("snapshot request not served: %s", exc)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(SERVE_TIMEOUT_S)
        with conn.makefile("rb") as stream:
            words = _read_line(stream, REQUEST_MAX_BYTES).split()
        if len(words) != 2 or words[0] != "snapshot" or words[1] not in KINDS:
            _send(conn, {"ok": False, "error": f"unknown request {' '.join(words)[:40]!r}"})
            return
        try:
            header, image = self._render(words[1])
        except SnapshotUnavailable as exc:
            _send(conn, {"ok": False, "error": str(exc), "released": exc.released})
            return
        _send(conn, {"ok": True, **header, "bytes": len(image)}, image)
        log.info("snapshot: one %s frame (%d bytes) to a local client", words[1], len(image))

    def stop(self) -> None:
        if self._sock is None:
            return
        self._sock.close()
        self._sock = None
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def ask_daemon(
    path: Path, kind: str, timeout_s: float = ASK_TIMEOUT_S
) -> tuple[dict[str, Any], bytes] | None:
    """The running daemon's answer (header, image bytes), or None when no daemon listens at
    `path`. PermissionError: the socket is there but not for this user (not in its group);
    TimeoutError: the daemon did not answer within `timeout_s`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    with sock:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            return None
        sock.sendall(f"snapshot {kind}\n".encode())
        with sock.makefile("rb") as stream:
            try:
                header = json.loads(_read_line(stream, HEADER_MAX_BYTES))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: not a moodpi snapshot answer") from exc
            size = int(header.get("bytes", 0)) if header.get("ok") else 0
            if not 0 <= size <= IMAGE_MAX_BYTES:
                raise ValueError(f"{path}: an image of {size} bytes is no frame")
            image = stream.read(size)
        if len(image) != size:
            raise ValueError(f"{path}: the image ended {size - len(image)} bytes short")
        return header, image


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(SERVE_TIMEOUT_S)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def _send(conn: socket.socket, header: dict[str, Any], image: bytes = b"") -> None:
    conn.sendall(json.dumps(header, separators=(",", ":")).encode() + b"\n" + image)


def _read_line(stream: BinaryIO, limit: int) -> str:
    line = stream.readline(limit + 1)
    if not line.endswith(b"\n"):
        raise ValueError(f"a line longer than {limit} bytes" if len(line) > limit else
                         "the connection closed before the end of the line")  # fmt: skip
    return line[:-1].decode("utf-8", errors="replace")
