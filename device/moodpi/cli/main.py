"""Command line: parse, then hand over to the module that owns the command.

Handlers are imported lazily so that `moodpi status` does not pay for OpenCV and TFLite.
Each handler takes the parsed namespace and returns an exit status.

A command a person types is quiet: moodpi logs warnings and errors only, and what ALSA, LiteRT,
OpenCV and libcamera write to standard error themselves is dropped (moodpi.system.quiet); -v
shows it all. The daemon (`run`) logs at its configured level, library chatter included, and
the lab's long runs (`bench`, `evaluate`) log their progress.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from moodpi import __version__
from moodpi.config import EX_CONFIG, ConfigError
from moodpi.system.quiet import set_quiet

EX_USAGE = 64
DEVICE_CONFIG = Path("/etc/moodpi/config.toml")
DAEMON = "run"
LOGS_PROGRESS = ("run", "bench", "evaluate")


def _handler(target: str) -> Callable[[argparse.Namespace], int]:
    """'module:function' → a callable that imports moodpi.module on first use."""
    module_name, func_name = target.split(":")

    def call(args: argparse.Namespace) -> int:
        module = importlib.import_module(f"moodpi.{module_name}")
        return int(getattr(module, func_name)(args) or 0)

    return call


class CommandParser(argparse.ArgumentParser):
    """A command's parser: its options go before, between or after its positionals.

    Plain argparse fills every positional at the first run of them, so `library plot --config F
    out.png` left `out.png` unrecognised; intermixed parsing takes the options out first.
    """

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # Python 3.11's intermixed parsing calls this twice itself
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _common(suppress: bool) -> CommandParser:
    """-v and --config, taken before the command or after it (the command's copy leaves the
    value alone unless it is given there)."""
    common = CommandParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="debug logging, and the chatter of the libraries beneath (ALSA, TFLite, OpenCV)",
    )
    common.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS if suppress else None,
        help="TOML config (default: built-in defaults)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodpi", description=__doc__.splitlines()[0], parents=[_common(suppress=False)]
    )
    parser.add_argument("--version", action="version", version=f"moodpi {__version__}")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        parser_class=CommandParser,
    )
    common = _common(suppress=True)

    def command(name: str, target: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(func=_handler(target))
        return p

    run = command(
        "run", "cli.run:cli_run", "run the daemon: camera → faces → emotion → mood → music → MQTT"
    )
    run.add_argument(
        "--source", help="auto | picamera2 | v4l2:DEV | replay:PATH (overrides camera.source)"
    )
    run.add_argument(
        "--fps", type=float, help="camera or replay frames per second (overrides camera.fps)"
    )
    run.add_argument("--realtime", action="store_true", default=None, help="replay in real time")
    run.add_argument("--loop", action="store_true", default=None, help="replay: loop at the end")
    run.add_argument("--events-jsonl", metavar="PATH|-", help="write every event as a JSON line")
    run.add_argument("--no-audio", action="store_true", help="run without playback")

    evaluate = command(
        "evaluate", "lab.evaluate:cli_evaluate", "accuracy of the emotion model on FER-2013 data"
    )
    evaluate.add_argument(
        "--dataset", help="fer2013.csv, an image folder, a .npz, or FER+'s folder (label.csv)"
    )
    evaluate.add_argument(
        "--votes",
        help="FER+'s votes for --dataset's faces, row by row: fer2013new.csv, or a .npz with votes",
    )
    evaluate.add_argument(
        "--photos", help="real photographs: a folder with labels.csv (file,emotion), end to end"
    )
    evaluate.add_argument(
        "--split", default="val", help="--photos: val (person-disjoint, default) | train | all"
    )
    evaluate.add_argument(
        "--usage", default="PublicTest", help="CSV split: PublicTest | PrivateTest | Training"
    )
    evaluate.add_argument("--model", help="model file (overrides emotion.model)")
    evaluate.add_argument(
        "--compare",
        metavar="MODEL",
        action="append",
        help="also evaluate this model on the same faces, side by side (repeatable)",
    )
    evaluate.add_argument(
        "--flip", action="store_true", default=None, help="flip test-time averaging"
    )
    evaluate.add_argument("--limit", type=int, help="evaluate at most N faces")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")

    classify = command(
        "classify",
        "cli.classify:cli_classify",
        "emotions of the faces in photos, through the daemon's pipeline (docs/classify.md)",
    )
    classify.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP, ... files")
    classify.add_argument("--json", action="store_true", help="one JSON object per image per line")

    bench = command(
        "bench", "lab.bench:cli_bench", "per-stage latency, throughput, memory and cold start"
    )
    bench.add_argument(
        "--source", help="replay:PATH; default: frames of the capture size, faces at 1-4 m"
    )
    bench.add_argument("--frames", type=int, default=300, help="frames to time")
    bench.add_argument(
        "--mood",
        metavar="REPLAY_DIR",
        nargs="+",
        help="run the daemon on labelled replays and score the moods (several: pooled)",
    )
    bench.add_argument(
        "--mood-grid",
        metavar="REPLAY_DIR",
        nargs="+",
        help="choose the mood settings: a grid scored on these labelled replays (lab/mood/grid.py)",
    )
    bench.add_argument(
        "--held-out",
        metavar="REPLAY_DIR",
        nargs="+",
        help="--mood-grid: replays left out of the choice, to check it on",
    )
    bench.add_argument(
        "--distance",
        action="store_true",
        help="faces found and read at 1-4 m among clutter, old and new pipeline (lab/distance.py)",
    )
    bench.add_argument("--photos", help="--distance: a folder with labels.csv (file,emotion)")
    bench.add_argument("--count", type=int, default=120, help="--distance: photos per distance")
    bench.add_argument(
        "--clutter", type=int, default=8, help="--distance: items of clutter in each scene"
    )
    bench.add_argument("--out", default="bench/distance.json", help="--distance: JSON (and .png)")
    bench.add_argument("--json", action="store_true", help="machine-readable output")

    config = command("config", "cli.config:cli_config", "check or show the configuration")
    config.add_argument("action", choices=("check", "show", "example"))
    config.add_argument(
        "file", nargs="?", help="config file (default: --config or built-in defaults)"
    )

    library = command(
        "library", "cli.library:cli_library", "scan and analyse, show or plot the music library"
    )
    library.add_argument("action", choices=("scan", "show", "plot"))
    library.add_argument(
        "file",
        nargs="?",
        help="plot: the image to write: .png (default library.png), .pdf, or .svg (names on hover)",
    )
    library.add_argument("--json", action="store_true", help="show: one JSON object per track")
    library.add_argument(
        "--no-analysis", action="store_true", help="scan: read files only, place nothing"
    )

    history = command(
        "history", "cli.history:cli_history", "time in each mood per day, most played tracks"
    )
    history.add_argument("--since", help="ISO date or a number of days (e.g. 7)")
    history.add_argument("--json", action="store_true")

    mqtt = command("mqtt", "cli.mqtt:cli_mqtt", "MQTT maintenance")
    mqtt.add_argument(
        "action", choices=("cleanup",), help="cleanup: remove retained discovery configs"
    )

    command(
        "doctor",
        "cli.doctor.report:cli_doctor",
        "check camera, models, audio, library, broker, disk",
    )

    status = command("status", "cli.status:cli_status", "what the running daemon sees now")
    status.add_argument("--json", action="store_true")

    command("tail", "cli.tail:cli_tail", "live view of probabilities, mood and events")

    snapshot = command(
        "snapshot",
        "cli.camera_shot:cli_snapshot",
        "write one annotated frame to FILE (camera placement)",
    )
    snapshot.add_argument("file", help="output image (.jpg or .png)")
    snapshot.add_argument("--source", help="camera source (overrides camera.source)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "config", "unset") is None and DEVICE_CONFIG.is_file():
        args.config = str(DEVICE_CONFIG)  # on a device, every command reads the installed config
    set_quiet(args.command != DAEMON and not args.verbose)
    level = logging.INFO if args.command in LOGS_PROGRESS else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else level, format=_log_format(), stream=sys.stderr
    )
    try:
        return int(args.func(args))
    except ConfigError as exc:
        logging.getLogger("moodpi").error("%s", exc)
        return EX_CONFIG
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `moodpi status | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def apply_log_level(level: str, verbose: bool = False) -> None:
    """The configured log_level for moodpi's own loggers; -v/--verbose still forces debug."""
    logging.getLogger("moodpi").setLevel(logging.DEBUG if verbose else level.upper())


def _log_format() -> str:
    import os

    # journald stamps each line itself; elsewhere a timestamp helps.
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        return "%(levelname)s %(name)s: %(message)s"
    return "%(asctime)s %(levelname)s %(name)s: %(message)s"


if __name__ == "__main__":
    sys.exit(main())
