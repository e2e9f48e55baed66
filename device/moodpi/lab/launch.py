"""The real daemon as a child process: its command line and environment, built in one place for
the mood bench, the demo, the soak, the background-analysis bench and the tests.

A daemon started this way is not the service: systemd's notify, watchdog and directory variables
of the caller are dropped, so it neither reports to systemd nor writes into the service's runtime
or state directory. It opens no window, writes its output unbuffered, and plays through SDL's
`disk` driver into a file unless the caller asks for the sound card. `MOODPI__` settings of the
caller's environment are dropped unless kept on purpose (a benchmark pointed at another model).
"""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Mapping
from pathlib import Path

# What systemd gives its service; a child of a benchmark or a test must not inherit it.
SERVICE_VARIABLES = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "RUNTIME_DIRECTORY",
    "STATE_DIRECTORY",
)
SETTINGS_PREFIX = "MOODPI__"


def daemon_command(*args: str) -> list[str]:
    """`python -m moodpi ARGS` with the interpreter that runs now (its venv, its moodpi)."""
    return [sys.executable, "-m", "moodpi", *args]


def run_command(
    *,
    source: str | None = None,
    fps: float | None = None,
    events_jsonl: str | Path | None = None,
    no_audio: bool = False,
    config: str | Path | None = None,
) -> list[str]:
    """`moodpi run` with the options the launchers set (`events_jsonl="-"`: stdout)."""
    args = ["run"]
    if source is not None:
        args += ["--source", source]
    if fps is not None:
        args += ["--fps", f"{fps:g}"]
    if events_jsonl is not None:
        args += ["--events-jsonl", str(events_jsonl)]
    if no_audio:
        args.append("--no-audio")
    if config is not None:
        args += ["--config", str(config)]
    return daemon_command(*args)


def daemon_env(
    *,
    audio_file: str | Path | None = os.devnull,
    state_dir: str | Path | None = None,
    runtime_dir: str | Path | None = None,
    keep_settings: bool = False,
    environ: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The child's environment, from `environ` (default: this process's).

    audio_file: where SDL's disk driver writes the playback (os.devnull: played, nothing kept);
    None leaves the audio settings as they are (the sound card, or a driver the caller chose).
    state_dir: the journal's folder (MOODPI__STATE_DIR); runtime_dir: where status.json goes
    (RUNTIME_DIRECTORY). `extra` is applied last and may set anything, systemd's variables too.
    """
    source = os.environ if environ is None else environ
    env = {
        k: v
        for k, v in source.items()
        if k not in SERVICE_VARIABLES and (keep_settings or not k.startswith(SETTINGS_PREFIX))
    }
    env.update(SDL_VIDEODRIVER="dummy", PYTHONUNBUFFERED="1")
    if audio_file is not None:
        env.update(SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=str(audio_file))
    if state_dir is not None:
        env["MOODPI__STATE_DIR"] = str(state_dir)
    if runtime_dir is not None:
        env["RUNTIME_DIRECTORY"] = str(runtime_dir)
    env.update(extra or {})
    return with_package_path(env)


def with_package_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with the folder of the moodpi package this process runs first on PYTHONPATH, so a
    child `python -m moodpi...` imports the same one (a checkout's device/; an installed
    package's site-packages is on the child's path already and is left out)."""
    root = str(Path(__file__).resolve().parents[2])
    if root not in site.getsitepackages():
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env
