"""Loading the configuration: the raw tree from TOML and the environment, validated by msgspec.

Unknown keys, wrong types and values out of bounds are errors that name the dotted key and the
bad value; every one of them is reported at once (each bad key is set aside and the rest is
validated again), with the files the config names when `files=True`. Single keys may be
overridden from the environment: `MOODPI__SECTION__KEY=value` (the value is read as a TOML
literal when it parses as one, else as a string; text keys take it as it is), e.g.
`MOODPI__MQTT__HOST=broker.lan` or `MOODPI__CAMERA__FPS=15`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

import msgspec
import msgspec.inspect as mi

from moodpi.config.checks import check_values
from moodpi.config.files import (
    MAX_CONFIG_BYTES,
    UnreadableFile,
    file_problems,
    read_text_limited,
)
from moodpi.config.schema import CATEGORY_PATTERN, ENV_PREFIX, MAX_TEXT_CHARS, Config, ConfigError
from moodpi.types import EMOTIONS

MAX_DEPTH = 8  # tables in tables; the schema needs 3 (music.uplift_map.sad)
MAX_ERRORS = 50  # a file of a thousand bad keys is named by its first fifty


def load(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    files: bool = False,
) -> Config:
    """Read TOML (or nothing: defaults), apply environment overrides, validate into a Config;
    `files`: also check every file it names (config.check_files). One ConfigError names every
    problem."""
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
    errors = _apply_env(data, os.environ if environ is None else environ)
    config, more = _build(data)
    errors += more
    if files and config is not None:  # a key already wrong is not named twice
        wrong = {key for error in errors for key, _ in error.problems}
        errors += [e for e in file_problems(config) if e.key not in wrong]
    if errors or config is None:
        raise ConfigError.of(errors)
    return config


def from_dict(data: Mapping[str, Any]) -> Config:
    """Validate an in-memory tree (tests, fuzzing). Only ConfigError ever escapes."""
    if not isinstance(data, Mapping):
        raise ConfigError("<root>", f"expected a table, got {_show(data)}")
    config, errors = _build({k: dict(v) if isinstance(v, dict) else v for k, v in data.items()})
    if errors or config is None:
        raise ConfigError.of(errors)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    """The file's tree: a small regular UTF-8 file (a BOM is fine), nested at most MAX_DEPTH."""
    if not path.exists() and not path.is_symlink():
        raise ConfigError("<file>", f"config file not found: {path}")
    try:
        text = read_text_limited(path, MAX_CONFIG_BYTES)
    except UnreadableFile as exc:
        raise ConfigError("<file>", f"cannot read the config: {exc}") from None
    return _parse_toml(text, path)


def _parse_toml(text: str, where: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", f"{where} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError("<file>", f"{where}: nested deeper than {MAX_DEPTH} levels") from None


def _check_depth(data: dict[str, Any]) -> None:
    """No key nested deeper than MAX_DEPTH (walked without recursion)."""
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        key, node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(key or "<root>", f"nested deeper than {MAX_DEPTH} levels")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for name, value in items:
            if isinstance(value, dict | list):
                stack.append((_join(key, name), value, depth + 1))


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> list[ConfigError]:
    """MOODPI__SECTION__KEY=value overrides one key; unknown names are errors, like in the file."""
    errors: list[ConfigError] = []
    for name in sorted(environ):
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not name.startswith(ENV_PREFIX) or not parts:
            continue
        key, kind, node, raw = ".".join(parts), _type_at(parts), data, environ[name]
        if kind is None:
            errors.append(ConfigError(key, f"unknown key (from the environment variable {name})"))
            continue
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        if not isinstance(node, dict):
            errors.append(ConfigError(key, f"environment variable {name} targets a non-table"))
            continue
        # Text (or a choice of words) is taken as it is: MOODPI__MQTT__HOST=10.0.0.2 is no number.
        if not isinstance(kind, mi.StrType | mi.LiteralType):
            with contextlib.suppress(tomllib.TOMLDecodeError, RecursionError):
                raw = tomllib.loads(f"v = {raw}")["v"]
        node[parts[-1]] = raw
    return errors


def _build(data: dict[str, Any]) -> tuple[Config | None, list[ConfigError]]:
    """The Config and every problem of the tree: each bad key is taken out (its default stands
    in) and the rest validated again, so one run names them all. None when the tree is beyond
    that (not a table, too deep, too many errors)."""
    try:
        _check_depth(data)
    except ConfigError as exc:
        return None, [exc]
    for key, default, _meta in iter_fields():  # a partial map is merged over its default
        node, leaf = _table_of(data, key)
        if isinstance(default, dict) and node and isinstance(node.get(leaf), dict):
            node[leaf] = {**default, **node[leaf]}
    errors: list[ConfigError] = []
    while len(errors) < MAX_ERRORS:
        try:
            config = msgspec.convert(data, Config, strict=True)
        except msgspec.ValidationError as exc:
            found = _explain(str(exc), data)
            errors += [error for error, _ in found]
            if not all(_drop(data, where) for _, where in found):
                return None, errors
            continue
        return config, errors + check_values(config)
    return None, errors


def _drop(data: dict[str, Any], where: list[Any]) -> bool:
    """Take the raw value at `where` out of the tree (False: the root itself is wrong)."""
    *tables, leaf = where or [None]
    node: Any = data
    for name in tables:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict) or leaf not in node:
        return False
    del node[leaf]
    return True


def _table_of(data: dict[str, Any], key: str) -> tuple[Any, str]:
    """The raw table holding a dotted key (None when there is none), and the key's last part."""
    *sections, leaf = key.split(".")
    node: Any = data
    for section in sections:
        node = node.get(section) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), leaf


def _explain(message: str, data: Any) -> list[tuple[ConfigError, list[Any]]]:
    """Our words for msgspec's error, with the raw keys to take out: msgspec says where
    (`... - at `$.camera.fps``), the raw value there and the declared type say what. A table's
    unknown keys and a map's bad entries are named all at once."""
    where = re.search(r" - at `(?:key` in `)?\$([.\w\[\]]*)`\Z", message)
    names = re.findall(r"\.(\w+)", where[1]) if where else []
    key, kind = ".".join(names), _type_at(names)
    for name in names:
        data = data[name]
    found: list[tuple[ConfigError, list[Any]]] = []
    if isinstance(kind, mi.StructType) and isinstance(data, dict):  # keys that are not fields
        known = sorted(f.name for f in kind.fields)
        for name in sorted((k for k in data if k not in known), key=str):
            problem = f"unknown key (known here: {', '.join(known)})"
            found.append((ConfigError(_join(key, name), problem), [*names, name]))
    if isinstance(kind, mi.DictType) and isinstance(data, dict):  # bad entries of a map
        for name, item in data.items():
            if name not in EMOTIONS:
                problem = f"not an emotion (one of {', '.join(EMOTIONS)})"
            elif not isinstance(item, str) or not re.search(CATEGORY_PATTERN, item):
                problem = f"expected a category name, got {_show(item)}"
            else:
                continue
            found.append((ConfigError(_join(key, name), problem), [*names, name]))
    return found or [(_explain_value(message[: where.start()] if where else message, key, kind,
                                     data), names)]  # fmt: skip


def _explain_value(problem: str, key: str, kind: mi.Type | None, data: Any) -> ConfigError:
    """A value of the wrong type or out of bounds; `problem` is msgspec's own words."""
    got = _show(data)
    if isinstance(kind, mi.StructType | mi.DictType):
        of = " of emotion = category" if isinstance(kind, mi.DictType) else ""
        problem = f"expected a table{of}, got {got}"
    elif expected := re.match(r"Expected `(bool|int|float|str)`, got", problem):
        problem = f"expected {expected[1]}, got {got}"
    elif isinstance(kind, mi.LiteralType):
        choices = next(meta["choices"] for name, _, meta in iter_fields() if name == key)
        problem = f"{got} is not one of {', '.join(choices)}"
    elif isinstance(data, str) and len(data) > MAX_TEXT_CHARS:  # the rules of Text
        problem = f"{len(data)} characters, over the limit of {MAX_TEXT_CHARS}"
    elif isinstance(data, str):
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
