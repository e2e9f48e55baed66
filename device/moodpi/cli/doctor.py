"""`moodpi doctor`: is this device able to do its job? One line per check, for an SSH session.

Checks: runtime (Python, NumPy, OpenCV, the TFLite runtime, picamera2 on a Pi), camera (opens,
reads frames: size and fps), models (load, shapes, one classification of a bundled face), audio
output, music library, broker (connects with the configured TLS and credentials), disk space of
the state directory, and on a Pi the CPU temperature and throttling flags. Each prints ok, warn,
fail or skip with a one-line hint; the exit status is 1 when any check fails.

It works with the daemon running: when the status file is fresh the daemon owns the camera and
the audio device, so those two checks report what the daemon says instead of opening them.
`python -m moodpi.cli.doctor --smoke` runs only the runtime and model checks (deploy/install.sh ends
with it). The checks themselves live in checks_device (this machine) and checks_home (the music
library, the broker); this module runs them, guards each, and prints the report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from moodpi import config as cfg
from moodpi.cli.checks_device import (
    FAIL,
    Check,
    check_audio,
    check_camera,
    check_disk,
    check_emotion_model,
    check_face_detector,
    check_runtime,
    check_temperature,
    check_throttling,
    on_pi,
)
from moodpi.cli.checks_home import check_broker, check_music
from moodpi.system.status import status_path
from moodpi.system.status_reader import StatusReading, read_status


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m moodpi.cli.doctor", description=__doc__.splitlines()[0]
    )
    parser.add_argument("-c", "--config", help="TOML config")
    parser.add_argument("--smoke", action="store_true", help="runtime and model checks only")
    parser.add_argument("--require-picamera2", action="store_true", help="fail without picamera2")
    args = parser.parse_args(argv)
    try:
        if not args.smoke:
            return cli_doctor(args)
        from moodpi.cli.config import config_file

        config = cfg.load(config_file(args))
        return report(smoke_checks(config, args.require_picamera2))
    except cfg.ConfigError as exc:
        print(f"moodpi doctor: {exc}", file=sys.stderr)
        return cfg.EX_CONFIG


if __name__ == "__main__":
    sys.exit(main())
