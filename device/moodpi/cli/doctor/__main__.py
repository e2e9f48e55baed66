"""`python -m moodpi.cli.doctor [--smoke]`: the doctor without the `moodpi` command line;
deploy/install.sh ends with its smoke checks (runtime and models only)."""

from __future__ import annotations

import argparse
import sys

from moodpi import config as cfg
from moodpi.cli import doctor
from moodpi.cli.doctor.report import cli_doctor, report, smoke_checks
from moodpi.system.quiet import set_quiet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m moodpi.cli.doctor", description=(doctor.__doc__ or "").splitlines()[0]
    )
    parser.add_argument("-c", "--config", help="TOML config")
    parser.add_argument("--smoke", action="store_true", help="runtime and model checks only")
    parser.add_argument("--require-picamera2", action="store_true", help="fail without picamera2")
    parser.add_argument("-v", "--verbose", action="store_true", help="the libraries' chatter too")
    args = parser.parse_args(argv)
    set_quiet(not args.verbose)  # ALSA and LiteRT lines only with -v, as `moodpi doctor`
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
