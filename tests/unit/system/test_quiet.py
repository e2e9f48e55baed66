"""moodpi.system.quiet: what C code writes to fd 2 is dropped inside `native_quiet()`, only
while a command is quiet; Python's own output before and after still shows."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from moodpi.system import quiet


@pytest.fixture(autouse=True)
def _loud_again() -> Iterator[None]:
    yield
    quiet.set_quiet(False)


def _c_level(text: str) -> None:
    os.write(2, text.encode())  # as ALSA or LiteRT do: straight to the descriptor


def test_quiet_drops_what_is_written_to_fd_2_inside_the_block(
    capfd: pytest.CaptureFixture[str],
) -> None:
    quiet.set_quiet(True, environ={})
    print("before", file=sys.stderr)
    with quiet.native_quiet():
        _c_level("ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default\n")
    print("after", file=sys.stderr)
    _c_level("outside\n")
    assert capfd.readouterr().err == "before\nafter\noutside\n"


def test_loud_keeps_everything(capfd: pytest.CaptureFixture[str]) -> None:
    quiet.set_quiet(False)
    with quiet.native_quiet():
        _c_level("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert "XNNPACK" in capfd.readouterr().err


def test_nested_and_concurrent_blocks_restore_fd_2_once_all_are_left(
    capfd: pytest.CaptureFixture[str],
) -> None:
    quiet.set_quiet(True, environ={})
    inside = threading.Event()
    leave = threading.Event()

    def other() -> None:
        with quiet.native_quiet():
            inside.set()
            leave.wait(10)
            _c_level("other thread\n")

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    with quiet.native_quiet():
        with quiet.native_quiet():
            _c_level("nested\n")
        _c_level("still inside\n")
    _c_level("between\n")  # the other thread still holds its block: dropped too
    leave.set()
    thread.join(10)
    _c_level("free\n")
    assert capfd.readouterr().err == "free\n"


def test_quiet_sets_the_libraries_log_levels_unless_set_already() -> None:
    env = {"OPENCV_LOG_LEVEL": "DEBUG"}
    quiet.set_quiet(True, environ=env)
    assert env["OPENCV_LOG_LEVEL"] == "DEBUG"  # a person's own setting wins
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3" and env["LIBCAMERA_LOG_LEVELS"] == "*:ERROR"
    assert quiet.is_quiet()
