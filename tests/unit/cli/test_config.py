"""`moodpi config check|show|example`: in a real process, the generated example, `show`'s round
trip, and hostile configs refused alike by `config check` and `run` (issue 18)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Annotated

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moodpi import config as cfg
from moodpi.cli.config import render_effective, render_example, toml_value
from moodpi.cli.main import main
from tests.support.daemon import REPO
from tests.support.environ import child_env, drop_overrides
from tests.support.hostile_configs import HOSTILE

EXAMPLE = REPO / "deploy" / "config.example.toml"


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    drop_overrides(monkeypatch)


def _moodpi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moodpi", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or child_env(),
        check=False,
    )


def test_config_check_exits_78_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nfps = 500\n")
    result = _moodpi("config", "check", str(bad))
    assert result.returncode == cfg.EX_CONFIG == 78
    assert "camera.fps" in result.stderr and "500" in result.stderr


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[camera]\nfps = 12\n[mqtt]\nhost = "broker.lan"\n')
    result = _moodpi("config", "check", "--config", str(good))
    assert result.returncode == 0, result.stderr
    assert f"ok: {good} is valid" in result.stdout


SEVERAL_ERRORS = """\
log_level = "loud"
[camera]
fps = 500
colour = true
[mqtt]
host = "broker.lan:1883"
[emotion]
model = "missing.tflite"
"""
SEVERAL_KEYS = ("log_level", "camera.fps", "camera.colour", "mqtt.host", "emotion.model")


@pytest.mark.parametrize("command", ["config check", "run"])
def test_check_and_run_name_every_error_at_once(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SEVERAL_ERRORS)
    env = {**child_env(), "MOODPI__STATE_DIR": str(tmp_path / "state")}
    result = _moodpi(*command.split(), "--config", str(bad), env=env)
    assert result.returncode == 78, result.stderr
    assert f"{len(SEVERAL_KEYS)} config errors:" in result.stderr
    lines = result.stderr.splitlines()
    for key in SEVERAL_KEYS:  # each on its own line, with its reason
        assert any(line.startswith(f"  at '{key}': ") and len(line) > len(key) + 10
                   for line in lines), key  # fmt: skip
    assert not (tmp_path / "state").exists()  # nothing started


def test_config_check_warns_on_a_music_root_that_is_not_there_and_passes(tmp_path: Path) -> None:
    unmounted = tmp_path / "usb-disk" / "music"
    config = tmp_path / "music.toml"
    config.write_text(f'[music]\nroot = "{unmounted}"\n')
    result = _moodpi("config", "check", str(config))
    assert result.returncode == 0, result.stderr  # a disk may be mounted after boot
    assert f"warn: music.root: {unmounted} does not exist" in result.stdout
    assert f"ok: {config} is valid" in result.stdout
    unmounted.mkdir(parents=True)
    assert "warn:" not in _moodpi("config", "check", str(config)).stdout


def test_config_check_reports_a_bad_environment_override(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("")
    result = _moodpi("config", "check", str(good), env={**child_env(), "MOODPI__CAMERA__FPS": "0"})
    assert result.returncode == 78
    assert "camera.fps" in result.stderr


def test_config_show_prints_the_effective_config_as_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mqtt]\nhost = "broker.lan"\n')
    result = _moodpi("config", "show", str(path), env={**child_env(), "MOODPI__CAMERA__FPS": "7"})
    assert result.returncode == 0, result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["mqtt"]["host"] == "broker.lan"
    assert shown["camera"]["fps"] == 7.0
    assert cfg.from_dict(shown) == cfg.load(path, environ={"MOODPI__CAMERA__FPS": "7"})


def test_config_example_prints_the_committed_example() -> None:
    result = _moodpi("config", "example")
    assert result.returncode == 0
    assert result.stdout == EXAMPLE.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The documented example


def test_example_file_is_the_generator_output() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == render_example(), (
        "deploy/config.example.toml is out of date: "
        "run `python -m moodpi config example > deploy/config.example.toml`"
    )


def test_example_documents_every_key_with_its_default() -> None:
    text = render_example()
    keys = [key for key, _, _ in cfg.iter_fields()]
    uncommented, count = re.subn(r"(?m)^#([A-Za-z0-9_]+) = ", r"\1 = ", text)
    assert count == len(keys)
    # Uncommenting every key gives exactly the defaults: the documented values are right.
    assert cfg.from_dict(tomllib.loads(uncommented)) == cfg.Config()
    for key, _default, meta in cfg.iter_fields():
        leaf = key.rsplit(".", 1)[-1]
        assert re.search(rf"(?m)^#{leaf} = ", text), key
        assert meta["doc"].split()[0] in text, key


def test_example_file_loads_cleanly() -> None:
    assert cfg.load(EXAMPLE, environ={}) == cfg.Config()


def test_show_round_trips_and_masks_secrets() -> None:
    config = cfg.from_dict(
        {
            "device_name": 'quote"d\\name',
            "mqtt": {"host": "broker.lan", "username": "u"},
            "music": {"mirror_map": {"sad": "blue notes"}},
        }
    )
    assert cfg.from_dict(tomllib.loads(render_effective(config, None))) == config

    class WithSecrets(msgspec.Struct, frozen=True, kw_only=True):
        api_token: Annotated[str, cfg.doc("a token")] = ""
        pin: Annotated[str, cfg.doc("a pin", secret=True)] = ""
        user: Annotated[str, cfg.doc("not secret")] = ""

    shown = cfg.as_dict(WithSecrets(api_token="t0k", pin="1234", user="me"))
    assert shown == {"api_token": "********", "pin": "********", "user": "me"}


@given(st.text())
def test_toml_strings_round_trip(text: str) -> None:
    assert tomllib.loads(f"v = {toml_value(text)}")["v"] == text


# ---------------------------------------------------------------------------------------------
# Hostile configs: `config check` and `run` agree (issue 18)


def _both(path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    """(exit status, output) of `config check FILE` and of `run --config FILE`."""
    results = []
    for argv in (["config", "check", str(path)], ["run", "--config", str(path), "--no-audio"]):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="moodpi"):
            status = main(argv)
        captured = capsys.readouterr()
        results.append((status, captured.out + captured.err + caplog.text))
    return results


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_config_is_refused_alike_by_check_and_run_naming_the_key(
    case: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    make, named = HOSTILE[case]
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n' * ("state_dir" not in case) + make(tmp_path)
    )
    started = time.monotonic()
    for status, text in _both(path, capsys, caplog):
        assert status == 78, text
        assert named in text, text
    assert time.monotonic() - started < 2.0


def test_config_check_and_run_accept_the_same_good_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n[mqtt]\nhost = "::1"\nbase_topic = "home/pi"\n')
    assert main(["config", "check", str(path)]) == 0
    assert "is valid" in capsys.readouterr().out
