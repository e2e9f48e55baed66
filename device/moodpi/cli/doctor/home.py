"""The doctor's checks of what the device serves and talks to: the music library and the broker.

The rule here: these checks give up in bounded time and leave the running daemon alone. The
library is scanned with a deadline, and in memory when its cache is not writable by whoever
runs the doctor; the broker is reached with its own client id, so the daemon's session is never
taken over, and an unanswered connect is a failure after a timeout, not a hang.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from moodpi import config as cfg
from moodpi.cli.doctor.check import FAIL, OK, SKIP, WARN, Check

BROKER_TIMEOUT_S = 5.0
SCAN_DEADLINE_S = 60.0


def check_music(config: cfg.Config) -> Check:
    from moodpi.music.library.health import library_problem
    from moodpi.music.library.library import library_from_config

    library = library_from_config(config)
    if not library.configured:
        return Check(
            "music",
            WARN,
            "no library: music.root and music.playlists are empty",
            "set music.root (e.g. /var/lib/moodpi/music) in /etc/moodpi/config.toml",
        )
    cache = library.cache_path
    if cache is not None and not _writable(cache):
        library = library.read_only()  # the daemon's cache and analysis, never written here
    stop = threading.Event()
    timer = threading.Timer(SCAN_DEADLINE_S, stop.set)
    timer.start()
    try:
        report = library.scan(stop_event=stop)
    except Exception as exc:
        return Check("music", FAIL, f"cannot scan the library: {exc}", "check music.root")
    finally:
        timer.cancel()
    problem = library_problem(library, report.tracks)
    if problem is not None and library.folder_gone():
        return Check("music", FAIL, problem, "mount the disk, or fix music.root")
    folders = ", ".join(f"{c} {n}" for c, n in report.categories.items()) or "none"
    detail = (
        f"{report.tracks} tracks, {report.placed} placed on the valence-arousal plane;"
        f" category folders: {folders}; {report.unreadable} unreadable"
    )
    if report.unreadable_files:
        named = ", ".join(Path(p).name for p in list(report.unreadable_files)[:3])
        more = f" and {report.unreadable - 3} more" if report.unreadable > 3 else ""
        formats = ", ".join(f"{f} {n}" for f, n in report.unreadable_formats.items())
        detail += f" ({formats}: {named}{more})"
    if problem is not None:
        folder = config.music.playlists or config.music.root
        return Check("music", WARN, problem, f"copy music (any layout) into {folder}")
    if not report.placed and library.tracks(""):  # music in no folder, nothing placed yet
        hint = "the daemon analyses them in the background, or: moodpi library scan"
        return Check("music", WARN, f"{detail}; none placed yet (they play shuffled)", hint)
    if report.unreadable or not report.complete:
        hint = "moodpi library scan names every unreadable file and why"
        hint = hint if report.unreadable else "moodpi library show lists the tracks"
        return Check("music", WARN, detail, hint)
    return Check("music", OK, detail)


def _writable(path: Path) -> bool:
    return os.access(path if path.exists() else path.parent, os.W_OK)


def check_broker(config: cfg.Config, timeout_s: float = BROKER_TIMEOUT_S) -> Check:
    mqtt = config.mqtt
    if not mqtt.host:
        return Check("broker", SKIP, "MQTT is off (mqtt.host is empty)")
    from moodpi.link import client as link

    where = f"{mqtt.host}:{mqtt.port}{' (TLS)' if mqtt.tls_ca else ''}"
    try:
        password = link.read_password(mqtt)
        # Its own client id: reusing the daemon's would make the broker drop the daemon.
        client = link.make_client(mqtt, f"moodpi-doctor-{os.getpid()}", password)
    except cfg.ConfigError as exc:
        return Check("broker", FAIL, str(exc), "fix the mqtt section of the config")
    answered = threading.Event()
    result: list[str] = []
    connect_error = link.record_connect_errors(client)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result.append(link.refusal_message(reason, mqtt) if reason.is_failure else "")
        answered.set()

    def on_connect_fail(_c: Any, _u: Any) -> None:  # refused, unresolved, TLS: say which
        result.append(link.connect_error_message(connect_error(), mqtt))
        answered.set()

    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    try:
        client.connect_async(mqtt.host, mqtt.port, keepalive=mqtt.keepalive)
        client.loop_start()
        if not answered.wait(timeout_s):
            return Check(
                "broker",
                FAIL,
                f"no answer from {where} in {timeout_s:.0f} s",
                "is the broker up and reachable from here? (firewall, TLS port)",
            )
    finally:
        with contextlib.suppress(Exception):
            client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_stop()
    if result and result[0]:
        hint = "check mqtt.username and the password"
        if "TLS" in result[0]:
            hint = "check mqtt.tls_ca: it must be the CA that signed the broker's certificate"
        elif "nothing listens" in result[0] or "cannot resolve" in result[0]:
            hint = "check mqtt.host and mqtt.port"
        return Check("broker", FAIL, result[0], hint)
    return Check(
        "broker", OK, f"connected to {where}" + (f" as {mqtt.username}" if mqtt.username else "")
    )
