"""`moodpi doctor`: runs the checks in order, guards each (a crash is one failed check, never
the end of the report), prints one line per check; exit status 1 when any check fails."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from moodpi import config as cfg
from moodpi.cli.doctor.check import FAIL, Check
from moodpi.cli.doctor.devices import check_audio, check_camera
from moodpi.cli.doctor.home import check_broker, check_music
from moodpi.cli.doctor.host import check_disk, check_temperature, check_throttling, on_pi
from moodpi.cli.doctor.models import check_emotion_model, check_face_detector
from moodpi.cli.doctor.runtime import check_runtime
from moodpi.system.status import StatusReading, read_status, status_path


def run_checks(
    config: cfg.Config, daemon: StatusReading, pi: bool | None = None
) -> Iterable[Check]:
    pi = on_pi() if pi is None else pi
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("runtime", check_runtime),
        ("camera", lambda: check_camera(config, daemon)),
        ("model", lambda: check_emotion_model(config)),
        ("faces", lambda: check_face_detector(config)),
        ("audio", lambda: check_audio(config, daemon)),
        ("music", lambda: check_music(config)),
        ("broker", lambda: check_broker(config)),
        ("disk", lambda: check_disk(config)),
    ]
    if pi:
        steps += [("temp", check_temperature), ("power", check_throttling)]
    for name, step in steps:
        yield _guarded(name, step)


def smoke_checks(config: cfg.Config, require_picamera2: bool) -> Iterable[Check]:
    yield _guarded("runtime", lambda: check_runtime(require_picamera2))
    yield _guarded("model", lambda: check_emotion_model(config))
    yield _guarded("faces", lambda: check_face_detector(config))


def _guarded(name: str, step: Callable[[], Check]) -> Check:
    """One broken check is reported as a failure; it never stops the others."""
    try:
        return step()
    except Exception as exc:
        return Check(
            name, FAIL, f"check crashed: {type(exc).__name__}: {exc}", "please report this"
        )


def report(checks: Iterable[Check], out: Any = None) -> int:
    out = out or sys.stdout
    failed = 0
    for check in checks:
        print(check.line(), file=out, flush=True)
        failed += check.level == FAIL
    print(f"{failed} check(s) failed" if failed else "all checks passed", file=out)
    return 1 if failed else 0


def cli_doctor(args: argparse.Namespace) -> int:
    from moodpi.cli.config import config_file

    path = config_file(args)
    config = cfg.load(path)
    print(f"moodpi doctor: config {path or 'built-in defaults'}")
    daemon = read_status(status_path(config.state_path))
    if daemon.state == "running":
        print("the daemon is running: camera and audio are left to it")
    return report(run_checks(config, daemon))
