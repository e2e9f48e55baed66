"""The config tree: validation names the key, overrides, paths, the generated example, fuzzing."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodpi import app as app_mod
from moodpi import config as cfg
from moodpi.cli import run as cli_run_mod
from moodpi.cli.config import render_effective, render_example, toml_value
from moodpi.cli.main import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "config.example.toml"


def _env() -> dict[str, str]:
    """The environment for a subprocess: this checkout importable, no MOODPI__ overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOODPI__")}
    env["PYTHONPATH"] = str(REPO / "device")
    return env


def _moodpi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moodpi", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or _env(),
        check=False,
    )


# ---------------------------------------------------------------------------------------------
# Every error names the key and the bad value


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({"camera": {"fps": "fast"}}, "camera.fps", ["expected float", "'fast'"]),
        ({"camera": {"width": 640.5}}, "camera.width", ["expected int", "640.5"]),
        ({"camera": {"realtime": 1}}, "camera.realtime", ["expected bool", "1"]),
        ({"camera": {"fsp": 10}}, "camera.fsp", ["unknown key", "fps"]),
        ({"camra": {"fps": 10}}, "camra", ["unknown key", "camera"]),
        ({"camera": {"fps": 100}}, "camera.fps", ["above the maximum 60.0", "100"]),
        ({"mqtt": {"port": 0}}, "mqtt.port", ["below the minimum 1", "0"]),
        ({"camera": {"fps": float("nan")}}, "camera.fps", ["not a finite number"]),
        ({"faces": {"detector": "yolo"}}, "faces.detector", ["'yolo' is not one of", "haar"]),
        ({"log_level": "loud"}, "log_level", ["'loud' is not one of", "debug"]),
        (
            {"music": {"uplift_map": {"happyy": "upbeat"}}},
            "music.uplift_map.happyy",
            ["not an emotion"],
        ),
        ({"music": {"mirror_map": {"sad": "../etc"}}}, "music.mirror_map.sad", ["category name"]),
        ({"music": {"mirror_map": {"sad": 3}}}, "music.mirror_map.sad", ["category name", "3"]),
        ({"camera": 5}, "camera", ["expected a table", "5"]),
        ({"mqtt": {"host": "a\x00b"}}, "mqtt.host", ["NUL"]),
    ],
)
def test_bad_values_name_the_key(data: dict[str, Any], key: str, words: list[str]) -> None:
    with pytest.raises(cfg.ConfigError) as info:
        cfg.from_dict(data)
    assert info.value.key == key
    assert f"'{key}'" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_valid_values_are_kept_and_coerced() -> None:
    config = cfg.from_dict(
        {"camera": {"fps": 15, "source": "v4l2:/dev/video2"}, "mood": {"threshold": 0.5}}
    )
    assert config.camera.fps == 15.0 and isinstance(config.camera.fps, float)
    assert config.camera.source == "v4l2:/dev/video2"
    assert config.mood.threshold == 0.5
    assert config.mqtt == cfg.MqttConfig()  # untouched sections keep their defaults


def test_a_partial_map_is_merged_over_its_own_default() -> None:
    config = cfg.from_dict({"music": {"uplift_map": {"sad": "jazz"}}})
    assert config.music.uplift_map == {**cfg.UPLIFT_MAP, "sad": "jazz"}
    assert config.music.mirror_map == cfg.MIRROR_MAP


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[camera\nfps = 10\n")
    with pytest.raises(cfg.ConfigError, match="not valid TOML"):
        cfg.load(broken, environ={})
    with pytest.raises(cfg.ConfigError, match="not found"):
        cfg.load(tmp_path / "missing.toml", environ={})


# ---------------------------------------------------------------------------------------------
# `moodpi config check|show|example` in a real process


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


def test_config_check_reports_a_bad_environment_override(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("")
    result = _moodpi("config", "check", str(good), env={**_env(), "MOODPI__CAMERA__FPS": "0"})
    assert result.returncode == 78
    assert "camera.fps" in result.stderr


def test_config_show_prints_the_effective_config_as_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mqtt]\nhost = "broker.lan"\n')
    result = _moodpi("config", "show", str(path), env={**_env(), "MOODPI__CAMERA__FPS": "7"})
    assert result.returncode == 0, result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["mqtt"]["host"] == "broker.lan"
    assert shown["camera"]["fps"] == 7.0
    assert cfg.from_dict(shown) == cfg.load(path, environ={"MOODPI__CAMERA__FPS": "7"})


def test_config_example_prints_the_committed_example() -> None:
    result = _moodpi("config", "example")
    assert result.returncode == 0
    assert result.stdout == EXAMPLE.read_text(encoding="utf-8")


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
        stop_event = None

        def __init__(self, config: cfg.Config, **_kwargs: Any) -> None:
            seen.append(logging.getLogger("moodpi.app").getEffectiveLevel())

        def run(self) -> int:
            return 0

    monkeypatch.setattr(app_mod, "Daemon", FakeDaemon)
    monkeypatch.setattr(cli_run_mod, "_install_signal_handlers", lambda _event: None)
    for name in [n for n in os.environ if n.startswith("MOODPI__")]:
        monkeypatch.delenv(name)
    assert main([*flags, "run", "--config", str(path)]) == 0
    assert seen == [level]


# ---------------------------------------------------------------------------------------------
# Environment overrides


def test_environment_overrides_single_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[camera]\nfps = 5\n[mqtt]\nhost = "from-file"\n')
    environ = {
        "MOODPI__CAMERA__FPS": "15",
        "MOODPI__MQTT__HOST": "10.0.0.2",  # a str field takes the text as it is
        "MOODPI__MQTT__PORT": "8883",
        "MOODPI__CAMERA__REALTIME": "true",
        "MOODPI__MUSIC__UPLIFT_MAP__SAD": "calm",
        "MOODPI__MOOD__FACES": "group",
        "OTHER": "ignored",
    }
    config = cfg.load(path, environ=environ)
    assert config.camera.fps == 15.0
    assert config.mqtt.host == "10.0.0.2"
    assert config.mqtt.port == 8883
    assert config.camera.realtime is True
    assert config.music.uplift_map["sad"] == "calm"
    assert config.music.uplift_map["happy"] == cfg.UPLIFT_MAP["happy"]
    assert config.mood.faces == "group"


@pytest.mark.parametrize(
    ("environ", "key", "words"),
    [
        ({"MOODPI__CAMERA__FSP": "10"}, "camera.fsp", ["MOODPI__CAMERA__FSP", "unknown key"]),
        ({"MOODPI__CAMERA__FPS": "fast"}, "camera.fps", ["expected float", "'fast'"]),
        ({"MOODPI__MQTT__PORT": "99999"}, "mqtt.port", ["above the maximum"]),
    ],
)
def test_bad_environment_overrides_name_the_key(
    environ: dict[str, str], key: str, words: list[str]
) -> None:
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(None, environ=environ)
    assert info.value.key == key
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------------------------
# Relative paths are relative to the config file


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text(
        'state_dir = "state"\nmodels_dir = "/abs/models"\n'
        '[camera]\nsource = "replay:clips/a.mp4"\n'
        '[music]\nroot = "music"\n'
        '[mqtt]\ntls_ca = "ca.pem"\npassword_file = "secret/pw"\n'
        '[emotion]\nmodel = "emotion_int8.tflite"\n'
    )
    other_cwd = tmp_path / "elsewhere"
    other_cwd.mkdir()
    cwd = Path.cwd()
    os.chdir(other_cwd)
    try:
        config = cfg.load(path, environ={"MOODPI__MUSIC__PLAYLISTS": "lists"})
    finally:
        os.chdir(cwd)
    assert config.state_dir == str(folder / "state")
    assert config.state_path == folder / "state"
    assert config.models_dir == "/abs/models"  # absolute: untouched
    assert config.camera.source == f"replay:{folder / 'clips/a.mp4'}"
    assert config.music.root == str(folder / "music")
    assert config.mqtt.tls_ca == str(folder / "ca.pem")
    assert config.mqtt.password_file == str(folder / "secret/pw")
    assert config.music.playlists == "lists"  # from the environment: as given
    assert config.emotion.model == "emotion_int8.tflite"  # model names: relative to models_dir
    assert config.model_path(config.emotion.model) == Path("/abs/models/emotion_int8.tflite")


def test_without_a_file_paths_stay_as_given() -> None:
    config = cfg.from_dict({"music": {"root": "music"}, "camera": {"source": "replay:x"}})
    assert config.music.root == "music"
    assert config.camera.source == "replay:x"


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


def test_every_number_is_bounded_so_nan_and_inf_are_rejected() -> None:
    for key, default, meta in cfg.iter_fields():
        if isinstance(default, float):
            assert "min" in meta and "max" in meta, key
            for bad in (float("nan"), float("inf"), float("-inf")):
                section, leaf = key.split(".") if "." in key else ("", key)
                data = {section: {leaf: bad}} if section else {leaf: bad}
                with pytest.raises(cfg.ConfigError, match="not a finite number"):
                    cfg.from_dict(data)


def test_lists_become_tuples_and_ints_are_no_bools() -> None:
    class WithList(msgspec.Struct, frozen=True, kw_only=True):
        sizes: tuple[int, ...] = ()

    assert msgspec.convert({"sizes": [1, 2]}, WithList, strict=True).sizes == (1, 2)
    assert cfg.as_dict(WithList(sizes=(1, 2))) == {"sizes": [1, 2]}
    with pytest.raises(cfg.ConfigError, match="expected bool, got 0"):
        cfg.from_dict({"history": {"enabled": 0}})


def test_sections_are_frozen_and_replaced_by_name() -> None:
    config = cfg.Config()
    with pytest.raises(AttributeError):
        config.camera.fps = 5.0  # type: ignore[misc]
    changed = msgspec.structs.replace(config.camera, fps=5.0)
    assert changed.fps == 5.0 and config.camera.fps == 10.0
    with pytest.raises(TypeError):
        cfg.CameraConfig("auto")  # type: ignore[misc]


@given(st.text())
def test_toml_strings_round_trip(text: str) -> None:
    assert tomllib.loads(f"v = {toml_value(text)}")["v"] == text


# ---------------------------------------------------------------------------------------------
# Fuzzing: whatever the tree, only ConfigError escapes

_KEYS = sorted({part for key, _, _ in cfg.iter_fields() for part in key.split(".")})
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["auto", "haar", "largest", "mirror", "fade", "info", "happy", "replay:x"]),
)
_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(_KEYS), st.text(max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=250, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=8)), _trees, max_size=6))
def test_from_dict_raises_only_config_errors(data: dict[Any, Any]) -> None:
    try:
        config = cfg.from_dict(data)
    except cfg.ConfigError as exc:
        assert exc.key
    else:
        assert isinstance(config, cfg.Config)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(_KEYS), st.dictionaries(st.sampled_from(_KEYS), _leaves), max_size=6
    )
)
def test_from_dict_on_real_key_names_raises_only_config_errors(data: dict[str, Any]) -> None:
    with contextlib.suppress(cfg.ConfigError):
        cfg.from_dict(data)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(_KEYS), st.sampled_from(_KEYS), st.text(max_size=12))
def test_environment_overrides_raise_only_config_errors(section: str, key: str, raw: str) -> None:
    with contextlib.suppress(cfg.ConfigError):
        cfg.load(None, environ={f"MOODPI__{section.upper()}__{key.upper()}": raw})
