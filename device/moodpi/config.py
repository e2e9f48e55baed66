"""One frozen, validated configuration tree, loaded from TOML.

Every field carries its doc and bounds beside it. Unknown keys, wrong types and values out of
bounds are errors that name the dotted key and the bad value. Single keys may be overridden from
the environment: `MOODPI__SECTION__KEY=value` (the value is read as a TOML literal when it parses
as one, else as a string), e.g. `MOODPI__MQTT__HOST=broker.lan` or `MOODPI__CAMERA__FPS=15`.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodpi.types import EMOTIONS

EX_CONFIG = 78  # sysexits.h: configuration error; the unit tells systemd not to restart on it
ENV_PREFIX = "MOODPI__"
REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A configuration value is invalid; `key` is its dotted name."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config error at '{key}': {message}")
        self.key = key


def default_models_dir() -> Path:
    """Where the bundled models live: $MOODPI_MODELS_DIR, the checkout's models/, or /opt/moodpi."""
    env = os.environ.get("MOODPI_MODELS_DIR")
    if env:
        return Path(env)
    for candidate in (REPO_ROOT / "models", Path("/opt/moodpi/models")):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT / "models"


def default_state_dir() -> Path:
    """systemd's $STATE_DIRECTORY when run as the service, else the XDG state home."""
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "moodpi"


def _opt(default: Any, doc: str, **bounds: Any) -> Any:
    """A config field: default, one-line doc, and optional min/max/choices/secret."""
    meta = {"doc": doc, **bounds}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


# Default mood → category maps. `mirror` plays the mood's own category; `uplift` is the seed
# systems' music-therapy mapping.
MIRROR_MAP = {e: e for e in EMOTIONS}
UPLIFT_MAP = {
    "sad": "calming",
    "angry": "relaxing",
    "fear": "comforting",
    "disgust": "gentle",
    "surprise": "exciting",
    "happy": "upbeat",
    "neutral": "ambient",
}


@dataclass(frozen=True)
class CameraConfig:
    source: str = _opt(
        "auto", "auto | picamera2 | v4l2:DEVICE | replay:PATH (video file or image folder)"
    )
    fps: float = _opt(
        10.0, "frames per second asked of the camera, or replay rate", min=0.5, max=60.0
    )
    width: int = _opt(640, "capture width in pixels", min=64, max=4096)
    height: int = _opt(480, "capture height in pixels", min=48, max=4096)
    realtime: bool = _opt(False, "replay at `fps` in real time instead of as fast as possible")
    loop: bool = _opt(False, "replay: start again at the end instead of stopping")
    timeout_s: float = _opt(
        2.0, "longest wait for one frame before counting a failure", min=0.1, max=60.0
    )
    lost_deadline_s: float = _opt(
        120.0,
        "camera failing this long makes the daemon exit non-zero (systemd restarts it)",
        min=1.0,
        max=86400.0,
    )
    hflip: bool = _opt(False, "mirror frames horizontally")
    resize: bool = _opt(False, "replay: scale frames to width x height (default: their own size)")


@dataclass(frozen=True)
class FacesConfig:
    detector: str = _opt("blazeface", "face detector", choices=("blazeface", "haar"))
    model: str = _opt(
        "face_detection_short_range.tflite", "BlazeFace model file (relative: in the models dir)"
    )
    haar_cascade: str = _opt(
        "", "Haar cascade XML (relative: in the models dir); empty: models dir, then OpenCV's own"
    )
    min_score: float = _opt(0.6, "minimum detector score", min=0.05, max=1.0)
    min_size_px: int = _opt(
        24, "ignore faces smaller than this (box side, frame pixels)", min=8, max=2048
    )
    select: str = _opt("largest", "which faces to classify", choices=("largest", "all"))
    equalize: str = _opt(
        "none", "lighting normalisation of the face crop", choices=("none", "hist", "clahe")
    )
    margin: float = _opt(
        0.1, "extra margin around the detected box, as a fraction of its size", min=0.0, max=1.0
    )
    shift_up: float = _opt(
        0.05,
        "move the crop up by this fraction of the box height (FER faces show the forehead)",
        min=-0.5,
        max=0.5,
    )


@dataclass(frozen=True)
class EmotionConfig:
    # Our retrained model (models/MODEL_CARD_v10.md); earlier runs ("emotion_v8_int8.tflite",
    # "emotion_v6_int8.tflite", ...) and the inherited weights ("emotion_int8.tflite") stay.
    # v10 is calibrated on single faces; v8 and older were calibrated with flip averaging on.
    model: str = _opt("emotion_v10_int8.tflite", "emotion classifier (relative: in the models dir)")
    flip_average: bool = _opt(
        False, "average predictions of the face and its mirror image (2x cost, v10 +0.3 pt)"
    )
    num_threads: int = _opt(1, "TFLite interpreter threads", min=1, max=8)


@dataclass(frozen=True)
class MoodConfig:
    # Defaults tuned on 28 labelled FER-2013 replays (20 for the grid, 8 held out; see mood.py).
    smoothing_s: float = _opt(
        1.0, "time constant of the exponential smoothing of probabilities", min=0.0, max=60.0
    )
    threshold: float = _opt(
        0.3, "smoothed probability a mood needs to be accepted", min=0.0, max=1.0
    )
    switch_margin: float = _opt(
        0.4,
        "a new mood must beat the current one's smoothed probability by this much",
        min=0.0,
        max=1.0,
    )
    min_dwell_s: float = _opt(
        0.2, "a candidate mood must lead this long before it is published", min=0.0, max=600.0
    )
    min_interval_s: float = _opt(
        3.0, "minimum time between two published mood changes", min=0.0, max=3600.0
    )
    absent_after_s: float = _opt(
        5.0, "no face for this long turns presence off", min=0.1, max=3600.0
    )
    faces: str = _opt(
        "largest",
        "several faces: the largest votes, or all weighted by area",
        choices=("largest", "group"),
    )


@dataclass(frozen=True)
class MusicConfig:
    root: str = _opt("", "music folder holding one sub-folder per category; empty: no playback")
    playlists: str = _opt(
        "", "folder of <category>.m3u playlists, used instead of sub-folders when set"
    )
    policy: str = _opt("mirror", "mood → music policy", choices=("mirror", "uplift", "iso"))
    iso_steps: int = _opt(
        3, "iso policy: tracks taken to step from the mood's music to the target", min=1, max=20
    )
    mirror_map: dict[str, str] = _opt(MIRROR_MAP, "mirror policy: emotion → category")
    uplift_map: dict[str, str] = _opt(UPLIFT_MAP, "uplift/iso policy: emotion → target category")
    on_change: str = _opt(
        "fade",
        "on a mood change: fade across, or finish the current track",
        choices=("fade", "finish"),
    )
    fade_ms: int = _opt(2000, "fade length in milliseconds", min=0, max=30000)
    volume: float = _opt(0.8, "initial volume", min=0.0, max=1.0)
    pause_after_absent_s: float = _opt(
        30.0, "fade out and pause when nobody was seen this long", min=0.0, max=86400.0
    )


@dataclass(frozen=True)
class HistoryConfig:
    enabled: bool = _opt(
        True, "keep a SQLite journal of moods, presence and plays in the state dir"
    )
    retention_days: int = _opt(90, "delete journal rows older than this", min=1, max=3650)
    outbox_max: int = _opt(
        10000, "undelivered MQTT events kept at most (oldest dropped first)", min=10, max=1000000
    )


@dataclass(frozen=True)
class MqttConfig:
    host: str = _opt("", "broker host; empty: MQTT off")
    port: int = _opt(1883, "broker port", min=1, max=65535)
    username: str = _opt(
        "", "username; the password comes from password_file or $MOODPI_MQTT_PASSWORD"
    )
    password_file: str = _opt("", "file holding the password (never logged)")
    tls_ca: str = _opt("", "CA certificate file; set to use TLS")
    tls_cert: str = _opt("", "client certificate file (mutual TLS)")
    tls_key: str = _opt("", "client key file (mutual TLS)")
    client_id: str = _opt("", "MQTT client id; empty: moodpi-<device_id>")
    base_topic: str = _opt("", "topic prefix; empty: moodpi/<device_id>")
    discovery_prefix: str = _opt("homeassistant", "Home Assistant discovery prefix")
    discovery: str = _opt(
        "component",
        "discovery topics: one per entity, or one device config (HA >= 2024.12)",
        choices=("component", "device", "off"),
    )
    qos: int = _opt(1, "QoS of events and state", min=0, max=2)
    keepalive: int = _opt(60, "keepalive in seconds", min=5, max=3600)
    diagnostics_interval_s: float = _opt(
        60.0, "period of the retained diagnostics message", min=5.0, max=86400.0
    )


@dataclass(frozen=True)
class Config:
    device_id: str = _opt(
        "", "stable id used in topics and unique_ids; empty: derived from the hostname"
    )
    device_name: str = _opt("moodpi", "name shown in Home Assistant")
    state_dir: str = _opt(
        "", "journal and status files; empty: $STATE_DIRECTORY or ~/.local/state/moodpi"
    )
    models_dir: str = _opt("", "where relative model paths are found; empty: the bundled models")
    log_level: str = _opt("info", "log level", choices=("debug", "info", "warning", "error"))
    camera: CameraConfig = field(default_factory=CameraConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    emotion: EmotionConfig = field(default_factory=EmotionConfig)
    mood: MoodConfig = field(default_factory=MoodConfig)
    music: MusicConfig = field(default_factory=MusicConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)

    # Derived values, computed from the fields above.
    @property
    def effective_device_id(self) -> str:
        return self.device_id or _slug(socket.gethostname()) or "moodpi"

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) if self.state_dir else default_state_dir()

    def model_path(self, name: str) -> Path:
        path = Path(name)
        if path.is_absolute():
            return path
        return (Path(self.models_dir) if self.models_dir else default_models_dir()) / path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


# ---------------------------------------------------------------------------------------------
# Loading and validation

# Keys naming files or folders: relative values in a config file are relative to that file, so
# that `/etc/moodpi/config.toml` means the same thing whatever the working directory. A field may
# also opt in with `_opt(..., path=True)`. Model names are different: they are relative to the
# models dir.
_PATH_KEYS = frozenset(
    {
        "state_dir",
        "models_dir",
        "music.root",
        "music.playlists",
        "mqtt.password_file",
        "mqtt.tls_ca",
        "mqtt.tls_cert",
        "mqtt.tls_key",
    }
)
_REPLAY = "replay:"


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read TOML (or nothing: defaults), apply environment overrides, validate into a Config."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        data = _read_toml(path)
        _resolve_relative_paths(data, path.resolve().parent)
    _apply_env(data, os.environ if environ is None else environ)
    return _build(Config, data, "")


def from_dict(data: Mapping[str, Any]) -> Config:
    """Validate an in-memory tree (tests, fuzzing). Only ConfigError ever escapes."""
    if not isinstance(data, Mapping):
        raise ConfigError("<root>", f"expected a table, got {_show(data)}")
    return _build(Config, dict(data), "")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("<file>", f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("<file>", f"cannot read {path}: {exc}") from None


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """MOODPI__SECTION__KEY=value overrides one key; unknown names are errors, like in the file."""
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        key = ".".join(parts)
        hint = _hint_at(parts)
        if hint is None:
            raise ConfigError(key, f"unknown key (from the environment variable {name})")
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(key, f"environment variable {name} targets a non-table")
            node = child
        # A str field takes the text as it is: MOODPI__MQTT__HOST=10.0.0.2 must not become a number.
        node[parts[-1]] = environ[name] if hint is str else _parse_env_value(environ[name])


def _hint_at(parts: list[str]) -> Any | None:
    """The type of the field at a dotted path, or None when there is no such field."""
    cls: Any = Config
    for depth, part in enumerate(parts):
        if typing.get_origin(cls) is dict:  # a key inside a map: its value type
            return typing.get_args(cls)[1] if depth == len(parts) - 1 else None
        if not dataclasses.is_dataclass(cls):
            return None
        hints = typing.get_type_hints(cls)
        if part not in hints:
            return None
        cls = hints[part]
    return cls


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _path_keys() -> set[str]:
    return set(_PATH_KEYS) | {key for key, _, meta in iter_fields() if meta.get("path")}


def _resolve_relative_paths(data: dict[str, Any], base_dir: Path) -> None:
    """Make a file's relative paths absolute against its folder (before validation: raw data)."""
    for key in sorted(_path_keys() | {"camera.source"}):
        *parents, leaf = key.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or not isinstance(node.get(leaf), str) or not node[leaf]:
            continue
        value: str = node[leaf]
        if key == "camera.source":
            if value.startswith(_REPLAY) and not Path(value[len(_REPLAY) :]).is_absolute():
                node[leaf] = _REPLAY + str(base_dir / value[len(_REPLAY) :])
        elif not Path(value).is_absolute():
            node[leaf] = str(base_dir / value)


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(prefix or "<root>", f"expected a table, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted((k for k in data if k not in fields), key=str)
    if unknown:
        key = _join(prefix, unknown[0])
        raise ConfigError(key, f"unknown key (known here: {', '.join(sorted(fields))})")
    values = {}
    for name, value in data.items():
        key = _join(prefix, name)
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key)
        else:
            values[name] = _check_value(key, hint, value, fields[name])
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # a section's own __post_init__ check
        raise ConfigError(prefix or "<root>", str(exc)) from None


def _check_value(key: str, hint: Any, value: Any, f: dataclasses.Field[Any]) -> Any:
    meta = f.metadata
    if typing.get_origin(hint) is dict:
        return _check_emotion_map(key, value, _field_default(f))
    value = _coerce(key, hint, value)
    for item_key, item in _items(key, value):
        choices = meta.get("choices")
        if choices is not None and item not in choices:
            raise ConfigError(item_key, f"{_show(item)} is not one of {', '.join(choices)}")
        low, high = meta.get("min"), meta.get("max")
        if low is not None and item < low:
            raise ConfigError(item_key, f"{_show(item)} is below the minimum {low}")
        if high is not None and item > high:
            raise ConfigError(item_key, f"{_show(item)} is above the maximum {high}")
    return value


def _items(key: str, value: Any) -> list[tuple[str, Any]]:
    """Bounds and choices apply to each item of a list, and to a scalar itself."""
    if isinstance(value, tuple):
        return [(f"{key}[{i}]", item) for i, item in enumerate(value)]
    return [(key, value)]


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _coerce(key: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _finite(key, value)
    elif hint is str:
        if isinstance(value, str):
            if "\x00" in value:
                raise ConfigError(key, "contains a NUL character")
            if not value.isascii():
                try:  # an environment value with undecodable bytes arrives with lone surrogates
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise ConfigError(key, f"{_show(value)} is not valid UTF-8 text") from None
            return value
    elif origin in (list, tuple):
        # Lists are kept as tuples so that the frozen config stays immutable.
        if isinstance(value, list):
            (item_hint, *_) = typing.get_args(hint) or (Any,)
            return tuple(_coerce(f"{key}[{i}]", item_hint, item) for i, item in enumerate(value))
    elif origin in (typing.Union, types.UnionType):
        raise ConfigError(key, "unsupported optional type")  # not used: empty string means unset
    type_name = getattr(hint, "__name__", str(hint))
    raise ConfigError(key, f"expected {type_name}, got {_show(value)}")


def _finite(key: str, value: int | float) -> float:
    try:
        number = float(value)
    except OverflowError:
        raise ConfigError(key, f"{_show(value)} is too large") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(key, f"{_show(value)} is not a finite number")
    return number


def _check_emotion_map(key: str, value: Any, default: Mapping[str, str]) -> dict[str, str]:
    """A partial map is merged over the field's own default: `uplift_map = {sad = "jazz"}`."""
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a table of emotion = category, got {_show(value)}")
    result = dict(default)
    for emotion, category in value.items():
        if emotion not in EMOTIONS:
            raise ConfigError(_join(key, emotion), f"not an emotion (one of {', '.join(EMOTIONS)})")
        if not _is_category_name(category):
            message = f"expected a category name, got {_show(category)}"
            raise ConfigError(_join(key, emotion), message)
        result[emotion] = category
    return result


def _is_category_name(name: Any) -> bool:
    """A category is a folder name under music.root: no separators, no hidden or parent names."""
    return (
        isinstance(name, str)
        and bool(name)
        and not name.startswith(".")
        and not any(c in name for c in "/\\\x00")
    )


def _join(prefix: str, name: Any) -> str:
    """'section.key'; a name that is not a bare TOML key is quoted, so an empty one still shows."""
    text = str(name)
    if not text or not all(c.isascii() and (c.isalnum() or c in "_-") for c in text):
        text = repr(text)
    return f"{prefix}.{text}" if prefix else text


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------
# Introspection: `moodpi config show` and the documented example


def as_dict(config: Any) -> dict[str, Any]:
    """The config as plain data, secrets masked (the password itself never lives in the config)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = as_dict(value)
        elif _is_secret(f) and value:
            out[f.name] = "********"
        elif isinstance(value, dict):
            out[f.name] = dict(value)
        else:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _is_secret(f: dataclasses.Field[Any]) -> bool:
    """Marked `secret=True`, or named like one (a safety net for fields added later)."""
    name = f.name.lower()
    if f.metadata.get("secret"):
        return True
    suffixes = ("_password", "_token", "_secret")
    return name in ("password", "token", "secret") or name.endswith(suffixes)


def iter_fields(
    cls: type = Config, prefix: str = ""
) -> typing.Iterator[tuple[str, Any, dict[str, Any]]]:
    """(dotted key, default, metadata) for every leaf field, in declaration order."""
    for f in dataclasses.fields(cls):
        key = _join(prefix, f.name)
        factory = f.default_factory
        if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory):
            yield from iter_fields(factory, key)  # type: ignore[arg-type]
            continue
        yield key, _field_default(f), dict(f.metadata)
