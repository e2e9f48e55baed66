"""Loading the config (moodpi.config.loading): every error names the key and the bad value,
environment overrides, paths relative to the config file, and fuzzing: whatever the tree, only
ConfigError escapes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodpi import config as cfg


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


def test_every_bad_key_is_named_at_once() -> None:
    data = {
        "log_level": "loud",
        "camera": {"fps": 500, "colour": True, "flavour": 1, "width": 640},
        "mqtt": {"port": 0, "host": "broker.lan:1883", "base_topic": "a/#"},
        "music": {"uplift_map": {"sad": 5, "happyy": "upbeat"}},
        "nonsense": {},
    }
    with pytest.raises(cfg.ConfigError) as info:
        cfg.from_dict(data)
    keys = [key for key, _ in info.value.problems]
    assert sorted(keys) == sorted([
        "log_level", "camera.fps", "camera.colour", "camera.flavour", "mqtt.port", "mqtt.host",
        "mqtt.base_topic", "music.uplift_map.sad", "music.uplift_map.happyy", "nonsense",
    ])  # fmt: skip
    assert info.value.key == keys[0]
    text = str(info.value)
    assert text.startswith("10 config errors:")
    for key, reason in info.value.problems:  # one line each, with its reason
        assert f"  at '{key}': {reason}" in text.splitlines()
    assert "500 is above the maximum 60.0" in text and "no port here" in text
    assert data["camera"] == {"fps": 500, "colour": True, "flavour": 1, "width": 640}  # untouched


def test_environment_and_file_errors_are_named_with_the_values(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[camera]\nfps = 0\n[emotion]\nmodel = "missing.tflite"\n')
    environ = {"MOODPI__CAMERA__NOPE": "1", "MOODPI__MQTT__PORT": "99999"}
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(path, environ=environ)
    assert {k for k, _ in info.value.problems} == {"camera.nope", "camera.fps", "mqtt.port"}
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(path, environ=environ, files=True)
    keys = {k for k, _ in info.value.problems}
    assert keys == {"camera.nope", "camera.fps", "mqtt.port", "emotion.model"}
    assert "missing.tflite does not exist" in str(info.value)


def test_one_error_reads_as_before() -> None:
    with pytest.raises(cfg.ConfigError) as info:
        cfg.from_dict({"camera": {"fps": 500}})
    assert str(info.value) == "config error at 'camera.fps': 500 is above the maximum 60.0"
    assert info.value.problems == (("camera.fps", "500 is above the maximum 60.0"),)


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


def test_lists_become_tuples_and_ints_are_no_bools() -> None:
    class WithList(msgspec.Struct, frozen=True, kw_only=True):
        sizes: tuple[int, ...] = ()

    assert msgspec.convert({"sizes": [1, 2]}, WithList, strict=True).sizes == (1, 2)
    assert cfg.as_dict(WithList(sizes=(1, 2))) == {"sizes": [1, 2]}
    with pytest.raises(cfg.ConfigError, match="expected bool, got 0"):
        cfg.from_dict({"history": {"enabled": 0}})


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


def test_deep_environment_override_is_a_config_error() -> None:
    with pytest.raises(cfg.ConfigError):
        cfg.load(None, environ={"MOODPI__MUSIC__MIRROR_MAP": "{a=" * 600 + "1" + "}" * 600})


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
