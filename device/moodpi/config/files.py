"""Reading the files moodpi is told to read, bounded; and the checks of the files a config names.

Every file named by a user (the config itself, the password file, certificates, models, replay
frames) is opened without blocking, must be a regular file (a FIFO would hang a read, /dev/zero
would fill the memory) and is read up to a size limit. `check_files(config)` is the one check of
everything the config points at, shared by `moodpi config check` and `moodpi run`, so that what
the one accepts the other runs; each problem is a ConfigError naming the key, and
`file_problems` lists them all.
"""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moodpi.config.schema import Config, ConfigError

MAX_CONFIG_BYTES = 1 << 20  # a config is a few KiB; a megabyte is already absurd
MAX_SECRET_BYTES = 4096  # a password file
MAX_PEM_BYTES = 1 << 20  # a CA bundle (Debian's whole bundle is about 220 KiB)
MAX_MODEL_BYTES = 256 << 20  # a model file (ours are under 3 MiB)
TFLITE_MAGIC = b"TFL3"  # the FlatBuffer file identifier, at byte offset 4 of every .tflite


class UnreadableFile(ValueError):
    """A file that cannot be read as asked: missing, not a regular file, too large, not text."""


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def read_limited(path: str | Path, limit_bytes: int, *, head: bool = False) -> bytes:
    """The bytes of a regular file of at most `limit_bytes` (head=True: only its first
    `limit_bytes`, whatever its size). Never blocks on a FIFO nor reads a device."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFile(f"{path} does not exist") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        mode, size = (st := os.fstat(fd)).st_mode, st.st_size
        if not stat.S_ISREG(mode):
            raise UnreadableFile(f"{path} is {_kind(mode)}, not a regular file")
        if size > limit_bytes and not head:
            raise UnreadableFile(f"{path} is {size} bytes, over the limit of {limit_bytes}")
        data = _read_upto(fd, limit_bytes + 1)
    except OSError as exc:
        raise UnreadableFile(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit_bytes and not head:  # it grew while we read it
        raise UnreadableFile(f"{path} is over the limit of {limit_bytes} bytes")
    return data[:limit_bytes]


def _read_upto(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    while n > 0 and (chunk := os.read(fd, min(n, 1 << 20))):
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_text_limited(path: str | Path, limit_bytes: int) -> str:
    """The UTF-8 text of a small regular file; a leading byte order mark (Notepad) is dropped."""
    data = read_limited(path, limit_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path} is not UTF-8 text (byte {exc.start})") from None


# ---------------------------------------------------------------------------------------------
# The files a config names


def check_files(config: Config) -> None:
    """Raise one ConfigError naming every file the config names that cannot work."""
    if problems := file_problems(config):
        raise ConfigError.of(problems)


def file_problems(config: Config) -> list[ConfigError]:
    """Every named file that cannot work, each a ConfigError naming its key."""
    problems: list[ConfigError] = []

    def attempt(check: Callable[..., object], *args: Any) -> None:
        try:
            check(*args)
        except ConfigError as exc:
            problems.append(exc)

    attempt(_check_state_dir, config)
    for key, name in _models(config):
        attempt(_check_model, config, key, name)
    attempt(_check_cascade, config)
    if config.mqtt.host and config.mqtt.password_file:
        attempt(read_password_file, config.mqtt.password_file)
    if config.mqtt.host:
        attempt(_check_tls_files, config)
    return problems


def _check_state_dir(config: Config) -> None:
    path = config.state_path
    for candidate in (path, *path.parents):  # the nearest part that exists must be a folder
        if candidate.exists() or candidate.is_symlink():
            if not candidate.is_dir():
                raise ConfigError(
                    "state_dir", f"{candidate} is not a folder (journal and status live in it)"
                )
            return


def _models(config: Config) -> list[tuple[str, str]]:
    models = [("emotion.model", config.emotion.model)]
    if config.faces.detector == "blazeface":
        models.append(("faces.model", config.faces.model))
    return models


def _check_model(config: Config, key: str, name: str) -> None:
    path = config.model_path(name)
    try:
        header = read_limited(path, 8, head=True)
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise UnreadableFile(f"{path} is over the limit of {MAX_MODEL_BYTES} bytes")
    except (UnreadableFile, OSError) as exc:
        raise ConfigError(key, f"model file: {exc}") from None
    if header[4:8] != TFLITE_MAGIC:
        raise ConfigError(key, f"{path} is not a TFLite model (no {TFLITE_MAGIC!r} header)")


def _check_cascade(config: Config) -> None:
    cascade = config.faces.haar_cascade
    if config.faces.detector == "haar" and cascade:
        try:
            read_limited(config.model_path(cascade), MAX_PEM_BYTES * 8)
        except UnreadableFile as exc:
            raise ConfigError("faces.haar_cascade", str(exc)) from None


def _check_tls_files(config: Config) -> None:
    mqtt = config.mqtt
    if (mqtt.tls_cert or mqtt.tls_key) and not mqtt.tls_ca:
        key = "mqtt.tls_cert" if mqtt.tls_cert else "mqtt.tls_key"
        raise ConfigError(key, "client certificates need TLS: set mqtt.tls_ca too")
    if mqtt.tls_key and not mqtt.tls_cert:
        raise ConfigError("mqtt.tls_key", "a client key needs mqtt.tls_cert")
    if mqtt.tls_ca:
        tls_context(mqtt.tls_ca, mqtt.tls_cert, mqtt.tls_key)


def read_password_file(path: str) -> str:
    """The password in `mqtt.password_file` (one line; trailing newline dropped)."""
    try:
        return read_text_limited(path, MAX_SECRET_BYTES).rstrip("\r\n")
    except UnreadableFile as exc:
        raise ConfigError("mqtt.password_file", str(exc)) from None


def tls_context(ca: str, cert: str = "", key: str = "") -> ssl.SSLContext:
    """A client context trusting `ca` (and presenting cert/key): the files read, bounded, and
    loaded the way the link will, so a file that is no certificate is named now."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        text = read_text_limited(ca, MAX_PEM_BYTES)
        context.load_verify_locations(cadata=text)
    except (UnreadableFile, ssl.SSLError, ValueError) as exc:
        raise ConfigError("mqtt.tls_ca", f"not a PEM CA certificate: {exc}") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError("mqtt.tls_ca", f"{ca} holds no PEM certificate")
    for name, value in (("mqtt.tls_cert", cert), ("mqtt.tls_key", key)):
        if value:
            try:
                read_limited(value, MAX_PEM_BYTES)
            except UnreadableFile as exc:
                raise ConfigError(name, str(exc)) from None
    if cert:
        try:
            context.load_cert_chain(cert, key or None)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigError(
                "mqtt.tls_cert", f"cannot load the client certificate: {exc}"
            ) from None
    return context
