"""One frozen, validated configuration tree, loaded from TOML.

Every field declares its doc and bounds beside it (`msgspec.Meta`) and msgspec validates against
them: unknown keys, wrong types and values out of bounds are errors that name the dotted key and
the bad value. Single keys may be overridden from the environment: `MOODPI__SECTION__KEY=value`
(the value is read as a TOML literal when it parses as one, else as a string; text keys take it as
it is), e.g. `MOODPI__MQTT__HOST=broker.lan` or `MOODPI__CAMERA__FPS=15`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import socket
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
import msgspec.inspect as mi

from moodpi.types import EMOTIONS, DiscoveryMode, Emotion, Policy

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


def doc(
    text: str, ge: float | None = None, le: float | None = None, **extra: object
) -> msgspec.Meta:
    """Meta of a field: its one-line doc and bounds (ge: minimum, le: maximum). Extras:
    `path=PREFIX` marks a file or folder: a relative value in a config file (after PREFIX) is
    relative to that file (model names are not paths: they are relative to models_dir);
    `secret=True` masks the value in `moodpi config show`."""
    return msgspec.Meta(description=text, ge=ge, le=le, extra=extra or None)


# Text has no NUL characters, nor lone surrogates (how undecodable bytes of a variable arrive).
Text = Annotated[str, msgspec.Meta(pattern=r"^[^\x00\ud800-\udfff]*$")]
# A category is a folder name under music.root: not empty, no separators, not hidden nor '..'.
_CATEGORY = r"^[^./\\\x00][^/\\\x00]*$"
Category = Annotated[str, msgspec.Meta(pattern=_CATEGORY)]
EmotionMap = dict[Emotion, Category]
LogLevel = Literal["debug", "info", "warning", "error"]

# Default mood → category maps. `mirror` plays the mood's own category; `uplift` is the seed
# systems' music-therapy mapping.
MIRROR_MAP: dict[Emotion, str] = {e: e for e in EMOTIONS}
UPLIFT_MAP: dict[Emotion, str] = {
    "sad": "calming",
    "angry": "relaxing",
    "fear": "comforting",
    "disgust": "gentle",
    "surprise": "exciting",
    "happy": "upbeat",
    "neutral": "ambient",
}


class CameraConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    source: Annotated[
        Text,
        doc(
            "auto | picamera2 | v4l2:DEVICE | replay:PATH (video file or image folder)",
            path="replay:",
        ),
    ] = "auto"
    fps: Annotated[
        float, doc("frames per second asked of the camera, or replay rate", 0.5, 60.0)
    ] = 10.0
    width: Annotated[int, doc("capture width in pixels", 64, 4096)] = 640
    height: Annotated[int, doc("capture height in pixels", 48, 4096)] = 480
    realtime: Annotated[
        bool, doc("replay at `fps` in real time instead of as fast as possible")
    ] = False
    loop: Annotated[bool, doc("replay: start again at the end instead of stopping")] = False
    timeout_s: Annotated[
        float, doc("longest wait for one frame before counting a failure", 0.1, 60.0)
    ] = 2.0
    lost_deadline_s: Annotated[
        float,
        doc(
            "camera failing this long makes the daemon exit non-zero (systemd restarts it)",
            1.0,
            86400.0,
        ),
    ] = 120.0
    hflip: Annotated[bool, doc("mirror frames horizontally")] = False
    resize: Annotated[
        bool, doc("replay: scale frames to width x height (default: their own size)")
    ] = False


class FacesConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    detector: Annotated[Literal["blazeface", "haar"], doc("face detector")] = "blazeface"
    model: Annotated[Text, doc("BlazeFace model file (relative: in the models dir)")] = (
        "face_detection_short_range.tflite"
    )
    haar_cascade: Annotated[
        Text,
        doc("Haar cascade XML (relative: in the models dir); empty: models dir, then OpenCV's own"),
    ] = ""
    min_score: Annotated[float, doc("minimum detector score", 0.05, 1.0)] = 0.6
    min_size_px: Annotated[
        int, doc("ignore faces smaller than this (box side, frame pixels)", 8, 2048)
    ] = 24
    select: Annotated[Literal["largest", "all"], doc("which faces to classify")] = "largest"
    equalize: Annotated[
        Literal["none", "hist", "clahe"], doc("lighting normalisation of the face crop")
    ] = "none"
    margin: Annotated[
        float, doc("extra margin around the detected box, as a fraction of its size", 0.0, 1.0)
    ] = 0.1
    shift_up: Annotated[
        float,
        doc(
            "move the crop up by this fraction of the box height (FER faces show the forehead)",
            -0.5,
            0.5,
        ),
    ] = 0.05


class EmotionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # flip_average must match the mode the model's temperature was fitted in: its .json sidecar
    # says which, and the classifier and `moodpi doctor` warn on a mismatch (models/MODEL_CARD_*).
    model: Annotated[Text, doc("emotion classifier (relative: in the models dir)")] = (
        "emotion_v10_int8.tflite"
    )
    flip_average: Annotated[
        bool, doc("average predictions of the face and its mirror image (2x cost, v10 +0.3 pt)")
    ] = False
    num_threads: Annotated[int, doc("TFLite interpreter threads", 1, 8)] = 1


class MoodConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # The defaults are the best of a grid scored like `moodpi bench --mood` on labelled replays
    # and checked on replays left out of it (mood.py): change them with a new run, not by hand.
    smoothing_s: Annotated[
        float, doc("time constant of the exponential smoothing of probabilities", 0.0, 60.0)
    ] = 1.0
    threshold: Annotated[
        float, doc("smoothed probability a mood needs to be accepted", 0.0, 1.0)
    ] = 0.3
    switch_margin: Annotated[
        float,
        doc("a new mood must beat the current one's smoothed probability by this much", 0.0, 1.0),
    ] = 0.4
    min_dwell_s: Annotated[
        float, doc("a candidate mood must lead this long before it is published", 0.0, 600.0)
    ] = 0.2
    min_interval_s: Annotated[
        float, doc("minimum time between two published mood changes", 0.0, 3600.0)
    ] = 3.0
    absent_after_s: Annotated[
        float, doc("no face for this long turns presence off", 0.1, 3600.0)
    ] = 5.0
    faces: Annotated[
        Literal["largest", "group"],
        doc("several faces: the largest votes, or all weighted by area"),
    ] = "largest"


class MusicConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    root: Annotated[
        Text, doc("music folder holding one sub-folder per category; empty: no playback", path="")
    ] = ""
    playlists: Annotated[
        Text,
        doc("folder of <category>.m3u playlists, used instead of sub-folders when set", path=""),
    ] = ""
    policy: Annotated[Policy, doc("mood → music policy")] = "mirror"
    iso_steps: Annotated[
        int, doc("iso policy: tracks taken to step from the mood's music to the target", 1, 20)
    ] = 3
    mirror_map: Annotated[EmotionMap, doc("mirror policy: emotion → category")] = msgspec.field(
        default_factory=lambda: dict(MIRROR_MAP)
    )
    uplift_map: Annotated[EmotionMap, doc("uplift/iso policy: emotion → target category")] = (
        msgspec.field(default_factory=lambda: dict(UPLIFT_MAP))
    )
    on_change: Annotated[
        Literal["fade", "finish"], doc("on a mood change: fade across, or finish the current track")
    ] = "fade"
    fade_ms: Annotated[int, doc("fade length in milliseconds", 0, 30000)] = 2000
    volume: Annotated[float, doc("initial volume", 0.0, 1.0)] = 0.8
    pause_after_absent_s: Annotated[
        float, doc("fade out and pause when nobody was seen this long", 0.0, 86400.0)
    ] = 30.0


class HistoryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: Annotated[
        bool, doc("keep a SQLite journal of moods, presence and plays in the state dir")
    ] = True
    retention_days: Annotated[int, doc("delete journal rows older than this", 1, 3650)] = 90
    outbox_max: Annotated[
        int, doc("undelivered MQTT events kept at most (oldest dropped first)", 10, 1000000)
    ] = 10000


class MqttConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[Text, doc("broker host; empty: MQTT off")] = ""
    port: Annotated[int, doc("broker port", 1, 65535)] = 1883
    username: Annotated[
        Text, doc("username; the password comes from password_file or $MOODPI_MQTT_PASSWORD")
    ] = ""
    password_file: Annotated[Text, doc("file holding the password (never logged)", path="")] = ""
    tls_ca: Annotated[Text, doc("CA certificate file; set to use TLS", path="")] = ""
    tls_cert: Annotated[Text, doc("client certificate file (mutual TLS)", path="")] = ""
    tls_key: Annotated[Text, doc("client key file (mutual TLS)", path="")] = ""
    client_id: Annotated[Text, doc("MQTT client id; empty: moodpi-<device_id>")] = ""
    base_topic: Annotated[Text, doc("topic prefix; empty: moodpi/<device_id>")] = ""
    discovery_prefix: Annotated[Text, doc("Home Assistant discovery prefix")] = "homeassistant"
    discovery: Annotated[
        DiscoveryMode, doc("discovery topics: one per entity, or one device config (HA >= 2024.12)")
    ] = "component"
    qos: Annotated[int, doc("QoS of events and state", 0, 2)] = 1
    keepalive: Annotated[int, doc("keepalive in seconds", 5, 3600)] = 60
    diagnostics_interval_s: Annotated[
        float, doc("period of the retained diagnostics message", 5.0, 86400.0)
    ] = 60.0


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    device_id: Annotated[
        Text, doc("stable id used in topics and unique_ids; empty: derived from the hostname")
    ] = ""
    device_name: Annotated[Text, doc("name shown in Home Assistant")] = "moodpi"
    state_dir: Annotated[
        Text,
        doc("journal and status files; empty: $STATE_DIRECTORY or ~/.local/state/moodpi", path=""),
    ] = ""
    models_dir: Annotated[
        Text, doc("where relative model paths are found; empty: the bundled models", path="")
    ] = ""
    log_level: Annotated[LogLevel, doc("log level")] = "info"
    camera: CameraConfig = msgspec.field(default_factory=CameraConfig)
    faces: FacesConfig = msgspec.field(default_factory=FacesConfig)
    emotion: EmotionConfig = msgspec.field(default_factory=EmotionConfig)
    mood: MoodConfig = msgspec.field(default_factory=MoodConfig)
    music: MusicConfig = msgspec.field(default_factory=MusicConfig)
    history: HistoryConfig = msgspec.field(default_factory=HistoryConfig)
    mqtt: MqttConfig = msgspec.field(default_factory=MqttConfig)

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
# Loading: the raw tree from TOML and the environment, then msgspec validates


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read TOML (or nothing: defaults), apply environment overrides, validate into a Config."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        data = _read_toml(path)
        for key, _default, meta in iter_fields():  # relative paths: relative to the file
            node, leaf = _table_of(data, key)
            prefix, value = meta.get("path"), node.get(leaf) if node else None
            if prefix is None or not isinstance(value, str) or not value.startswith(prefix):
                continue
            if value and not Path(value[len(prefix) :]).is_absolute():
                node[leaf] = prefix + str(path.resolve().parent / value[len(prefix) :])
    _apply_env(data, os.environ if environ is None else environ)
    return _build(data)


def from_dict(data: Mapping[str, Any]) -> Config:
    """Validate an in-memory tree (tests, fuzzing). Only ConfigError ever escapes."""
    if not isinstance(data, Mapping):
        raise ConfigError("<root>", f"expected a table, got {_show(data)}")
    return _build({k: dict(v) if isinstance(v, dict) else v for k, v in data.items()})  # a copy


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
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not name.startswith(ENV_PREFIX) or not parts:
            continue
        key, kind, node, raw = ".".join(parts), _type_at(parts), data, environ[name]
        if kind is None:
            raise ConfigError(key, f"unknown key (from the environment variable {name})")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(key, f"environment variable {name} targets a non-table")
        # Text (or a choice of words) is taken as it is: MOODPI__MQTT__HOST=10.0.0.2 is no number.
        if not isinstance(kind, mi.StrType | mi.LiteralType):
            with contextlib.suppress(tomllib.TOMLDecodeError):
                raw = tomllib.loads(f"v = {raw}")["v"]
        node[parts[-1]] = raw


def _build(data: dict[str, Any]) -> Config:
    for key, default, _meta in iter_fields():  # a partial map is merged over its default
        node, leaf = _table_of(data, key)
        if isinstance(default, dict) and node and isinstance(node.get(leaf), dict):
            node[leaf] = {**default, **node[leaf]}
    try:
        return msgspec.convert(data, Config, strict=True)
    except msgspec.ValidationError as exc:
        raise _explain(str(exc), data) from None


def _table_of(data: dict[str, Any], key: str) -> tuple[Any, str]:
    """The raw table holding a dotted key (None when there is none), and the key's last part."""
    *sections, leaf = key.split(".")
    node: Any = data
    for section in sections:
        node = node.get(section) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), leaf


def _explain(message: str, data: Any) -> ConfigError:
    """Our words for msgspec's error: it says where (`... - at `$.camera.fps``), the raw value
    there and the declared type say what."""
    where = re.search(r" - at `(?:key` in `)?\$([.\w\[\]]*)`\Z", message)
    names = re.findall(r"\.(\w+)", where[1]) if where else []
    key, kind = ".".join(names), _type_at(names)
    for name in names:
        data = data[name]
    got = _show(data)
    if isinstance(kind, mi.StructType) and isinstance(data, dict):  # a key that is not a field
        known = sorted(f.name for f in kind.fields)
        for name in sorted((k for k in data if k not in known), key=str):
            return ConfigError(_join(key, name), f"unknown key (known here: {', '.join(known)})")
    if isinstance(kind, mi.DictType) and isinstance(data, dict):  # a bad entry of a map
        for name, item in data.items():
            if name not in EMOTIONS:
                return ConfigError(
                    _join(key, name), f"not an emotion (one of {', '.join(EMOTIONS)})"
                )
            if not isinstance(item, str) or not re.search(_CATEGORY, item):
                return ConfigError(_join(key, name), f"expected a category name, got {_show(item)}")
    problem = message[: where.start()] if where else message  # msgspec's words, if not ours
    if isinstance(kind, mi.StructType | mi.DictType):
        of = " of emotion = category" if isinstance(kind, mi.DictType) else ""
        problem = f"expected a table{of}, got {got}"
    elif expected := re.match(r"Expected `(bool|int|float|str)`, got", problem):
        problem = f"expected {expected[1]}, got {got}"
    elif isinstance(kind, mi.LiteralType):
        choices = next(meta["choices"] for name, _, meta in iter_fields() if name == key)
        problem = f"{got} is not one of {', '.join(choices)}"
    elif isinstance(data, str):  # the rules of Text
        problem = "contains a NUL character" if "\x00" in data else f"{got} is not valid UTF-8 text"
    elif isinstance(data, float) and not math.isfinite(data):
        problem = f"{got} is not a finite number"
    elif isinstance(kind, mi.IntType | mi.FloatType) and kind.ge is not None and data < kind.ge:
        problem = f"{got} is below the minimum {kind.ge}"
    elif isinstance(kind, mi.IntType | mi.FloatType) and kind.le is not None and data > kind.le:
        problem = f"{got} is above the maximum {kind.le}"
    return ConfigError(key or "<root>", problem)


def _type_at(parts: list[str]) -> mi.Type | None:
    """The declared type at a dotted path (inside a map: its value type), or None."""
    kind: mi.Type | None = _info(Config)
    for part in parts:
        if isinstance(kind, mi.DictType):
            kind = _unwrap(kind.value_type)
        elif isinstance(kind, mi.StructType):
            kind = next((_unwrap(f.type) for f in kind.fields if f.name == part), None)
        else:
            return None
    return kind


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


@functools.cache
def _info(cls: type[msgspec.Struct]) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


def _unwrap(kind: mi.Type) -> mi.Type:
    return kind.type if isinstance(kind, mi.Metadata) else kind


def as_dict(config: msgspec.Struct) -> dict[str, Any]:
    """The config as plain data, secrets masked (the password itself never lives in the config).

    Secret: marked `secret=True`, or named like one (a safety net for fields added later)."""
    data: dict[str, Any] = msgspec.to_builtins(config)
    for key, _default, meta in iter_fields(type(config)):
        node, leaf = _table_of(data, key)
        named = re.fullmatch(r"(.*_)?(password|token|secret)", leaf.lower())
        if node[leaf] and (named or meta.get("secret")):
            node[leaf] = "********"
        elif isinstance(node[leaf], tuple):
            node[leaf] = list(node[leaf])
    return data


def iter_fields(
    cls: type[msgspec.Struct] = Config, prefix: str = ""
) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(dotted key, default, metadata: doc, min, max, choices, extras) of every leaf field."""
    for key, f, meta in _leaves(cls, prefix):
        default = f.default if f.default_factory is msgspec.NODEFAULT else f.default_factory()
        yield key, default, dict(meta)


@functools.cache
def _leaves(
    cls: type[msgspec.Struct], prefix: str
) -> tuple[tuple[str, mi.Field, dict[str, Any]], ...]:
    leaves: list[tuple[str, mi.Field, dict[str, Any]]] = []
    for f, declared in zip(_info(cls).fields, msgspec.structs.fields(cls), strict=True):
        key, kind = _join(prefix, f.name), f.type
        if isinstance(kind, mi.StructType):
            leaves += _leaves(kind.cls, key)
            continue
        meta: dict[str, Any] = {"doc": ""}
        if isinstance(kind, mi.Metadata):
            meta.update(kind.extra or {}, doc=(kind.extra_json_schema or {}).get("description", ""))
            kind = kind.type
        if isinstance(kind, mi.IntType | mi.FloatType):
            meta.update({k: v for k, v in (("min", kind.ge), ("max", kind.le)) if v is not None})
        if isinstance(kind, mi.LiteralType):  # in declared order (msgspec sorts them)
            meta["choices"] = get_args(get_args(declared.type)[0])
        leaves.append((key, f, meta))
    return tuple(leaves)
