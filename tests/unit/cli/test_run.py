"""`moodpi run`'s command line: the configured log_level (file, environment, -v) reaches the
daemon's loggers, in process and in a real run."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from moodpi import app as app_mod
from moodpi import config as cfg
from moodpi.cli import run as cli_run_mod
from moodpi.cli.main import main
from tests.support.environ import child_env, drop_overrides


@pytest.fixture
def moodpi_logger_level() -> Any:
    logger = logging.getLogger("moodpi")
    saved = logger.level
    yield logger
    logger.setLevel(saved)


@pytest.mark.parametrize(
    ("text", "flags", "level"),
    [
        ('log_level = "error"\n', [], logging.ERROR),
        ('log_level = "debug"\n', [], logging.DEBUG),
        ("", [], logging.INFO),
        ('log_level = "error"\n', ["-v"], logging.DEBUG),  # --verbose still forces debug
    ],
)
def test_log_level_applies_to_moodpi_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    moodpi_logger_level: logging.Logger,
    text: str,
    flags: list[str],
    level: int,
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    seen: list[int] = []

    class FakeDaemon:  # what the daemon's loggers would see, without starting one
        request_stop = None

        def __init__(self, config: cfg.Config, **_kwargs: Any) -> None:
            seen.append(logging.getLogger("moodpi.app").getEffectiveLevel())

        def run(self) -> int:
            return 0

    monkeypatch.setattr(app_mod, "Daemon", FakeDaemon)
    monkeypatch.setattr(cli_run_mod, "_install_signal_handlers", lambda _stop: None)
    drop_overrides(monkeypatch)
    assert main([*flags, "run", "--config", str(path)]) == 0
    assert seen == [level]


def _run_logs(tmp_path: Path, text: str, env: dict[str, str]) -> str:
    (tmp_path / "empty").mkdir(exist_ok=True)
    path = tmp_path / "c.toml"
    path.write_text(f'{text}state_dir = "{tmp_path / "state"}"\n[history]\nenabled = false\n')
    result = subprocess.run(
        [sys.executable, "-m", "moodpi", "run", "--config", str(path), "--no-audio",
         "--source", f"replay:{tmp_path / 'empty'}"],
        capture_output=True, text=True, timeout=30, env={**child_env(), **env}, check=False,
    )  # fmt: skip
    assert result.returncode == 69, result.stderr  # an empty replay: the run ends at once
    return result.stderr


@pytest.mark.slow
def test_log_level_from_the_file_and_the_environment_in_a_real_run(tmp_path: Path) -> None:
    assert "INFO moodpi.app" in _run_logs(tmp_path, "", {})
    quiet = _run_logs(tmp_path, 'log_level = "warning"\n', {})
    assert "INFO moodpi" not in quiet and "ERROR moodpi.app" in quiet
    env = _run_logs(tmp_path, 'log_level = "info"\n', {"MOODPI__LOG_LEVEL": "error"})
    assert "INFO moodpi" not in env and "ERROR moodpi.app" in env
