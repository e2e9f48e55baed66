"""Hostile and clumsy configs (issue 18, defects 3, 4, 5, 7, 10, 11), shared by the unit test that
runs each through `moodpi config check` and `moodpi run` in process and the attack suite that
runs each through the real daemon: both must refuse it with exit 78, naming the key or file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def make_fifo(tmp: Path) -> Path:
    path = tmp / "fifo"
    os.mkfifo(path)
    return path


def write_file(tmp: Path, name: str = "file", text: str = "x") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def make_ca(tmp: Path) -> str:
    from tests.support.broker import make_tls_files

    return str(make_tls_files(tmp / "tls").ca)


# (config text built in a tmp dir, what the message must name)
HOSTILE: dict[str, tuple[Callable[[Path], str], str]] = {
    "password file missing": (
        lambda t: f'[mqtt]\nhost = "b"\npassword_file = "{t}/nope"\n',
        "mqtt.password_file",
    ),
    "password file a folder": (
        lambda t: f'[mqtt]\nhost = "b"\npassword_file = "{t}"\n',
        "mqtt.password_file",
    ),
    "password file /dev/zero": (
        lambda t: '[mqtt]\nhost = "b"\npassword_file = "/dev/zero"\n',
        "mqtt.password_file",
    ),
    "password file a FIFO": (
        lambda t: f'[mqtt]\nhost = "b"\npassword_file = "{make_fifo(t)}"\n',
        "mqtt.password_file",
    ),
    "tls_ca missing": (lambda t: f'[mqtt]\nhost = "b"\ntls_ca = "{t}/ca.pem"\n', "mqtt.tls_ca"),
    "tls_ca not a certificate": (
        lambda t: f'[mqtt]\nhost = "b"\ntls_ca = "{write_file(t, "ca.pem", "hello")}"\n',
        "mqtt.tls_ca",
    ),
    "tls_key without a certificate": (
        lambda t: f'[mqtt]\nhost = "b"\ntls_ca = "{make_ca(t)}"\ntls_key = "{write_file(t)}"\n',
        "mqtt.tls_key",
    ),
    "base_topic with +": (lambda t: '[mqtt]\nhost = "b"\nbase_topic = "a/+/b"\n', "base_topic"),
    "base_topic with #": (lambda t: '[mqtt]\nbase_topic = "a/#"\n', "mqtt.base_topic"),
    "base_topic 70,000 long": (
        lambda t: f'[mqtt]\nhost = "b"\nbase_topic = "{"a" * 70000}"\n',
        "mqtt.base_topic",
    ),
    "discovery_prefix #": (lambda t: '[mqtt]\ndiscovery_prefix = "#"\n', "discovery_prefix"),
    "discovery_prefix with +": (
        lambda t: '[mqtt]\ndiscovery_prefix = "home+assistant"\n',
        "mqtt.discovery_prefix",
    ),
    "host 70,000 long": (lambda t: f'[mqtt]\nhost = "{"h" * 70000}"\n', "mqtt.host"),
    "host blank": (lambda t: '[mqtt]\nhost = "   "\n', "mqtt.host"),
    "host with a port": (lambda t: '[mqtt]\nhost = "127.0.0.1:1883"\n', "mqtt.port"),
    "host with a newline": (lambda t: '[mqtt]\nhost = "broker\\nlan"\n', "mqtt.host"),
    "host a URL": (lambda t: '[mqtt]\nhost = "mqtt://broker"\n', "mqtt.host"),
    "unknown camera scheme": (lambda t: '[camera]\nsource = "bogus:x"\n', "camera.source"),
    "emotion model not a model": (
        lambda t: f'[emotion]\nmodel = "{write_file(t, "m.tflite", "x" * 100)}"\n',
        "emotion.model",
    ),
    "emotion model missing": (lambda t: f'[emotion]\nmodel = "{t}/no.tflite"\n', "emotion.model"),
    "faces model not a model": (
        lambda t: f'[faces]\nmodel = "{write_file(t, "f.tflite", "")}"\n',
        "faces.model",
    ),
    "state_dir is a file": (lambda t: f'state_dir = "{write_file(t)}"\n', "state_dir"),
    "state_dir under a file": (lambda t: f'state_dir = "{write_file(t)}/state"\n', "state_dir"),
    "arrays nested 500 deep": (lambda t: "a = " + "[" * 500 + "]" * 500 + "\n", "nested"),
    "tables nested 500 deep": (lambda t: "a = " + "{b=" * 500 + "1" + "}" * 500 + "\n", "nested"),
    "dotted keys 600 deep": (lambda t: "x." * 600 + "a = 1\n", "nested"),
}
