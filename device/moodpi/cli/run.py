"""`moodpi run`: the daemon from the command line (config, overrides, signals)."""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Callable
from typing import Any

import msgspec

from moodpi import config as config_mod
from moodpi.cli.main import apply_log_level
from moodpi.config import Config

log = logging.getLogger(__name__)


def cli_run(args: argparse.Namespace) -> int:
    # The same checks as `moodpi config check`, every problem at once.
    config = apply_cli_overrides(config_mod.load(args.config, files=True), args)
    apply_log_level(config.log_level, verbose=args.verbose)
    from moodpi import app  # OpenCV and TFLite load only for a config that passed (exit 78 fast)

    daemon = app.Daemon(config, events_jsonl=args.events_jsonl, audio=not args.no_audio)
    _install_signal_handlers(daemon.request_stop)
    return daemon.run()


def apply_cli_overrides(config: Config, args: argparse.Namespace) -> Config:
    camera = config.camera
    changes: dict[str, Any] = {}
    if args.source:
        changes["source"] = args.source
    if args.fps:
        changes["fps"] = args.fps
    if args.realtime:
        changes["realtime"] = True
    if args.loop:
        changes["loop"] = True
    if not changes:
        return config
    # Re-validate through the loader so a bad --fps is reported like a bad config value.
    merged = {**config_mod.as_dict(camera), **changes}
    return msgspec.structs.replace(config, camera=config_mod.from_dict({"camera": merged}).camera)


def _install_signal_handlers(request_stop: Callable[[str], None]) -> None:
    def handle(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        log.info("received %s, stopping", name)
        request_stop(f"received {name}")  # the reason the last status gives

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
