"""`moodpi status`: a text view of the daemon's status file, and the readers `moodpi tail` shares.

Everything here reads a status document written by another process (and perhaps another
version), so every field is optional and of any type: a missing or odd field shows as '-',
never as a traceback in the middle of an SSH session.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from moodpi.system.status import status_path
from moodpi.system.status_reader import (
    StatusReading,
    camera,
    field_dict,
    field_number,
    mood_of,
    now_playing,
    presence,
    read_status,
    sight,
)
from moodpi.types import EMOTIONS

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_HIDDEN_EVENT_KEYS = frozenset({"type", "seq", "t", "at"})
_EXTRA_KEYS = ("policy", "note")  # shown by `moodpi status` when present


# ---------------------------------------------------------------------------------------------
# Field access and formatting


def probabilities(status: Mapping[str, Any]) -> list[tuple[str, float]]:
    """(emotion, p) in EMOTIONS order, then any other names the daemon sent."""
    probs = field_dict(status.get("probs"))
    names = [e for e in EMOTIONS] + sorted(str(k) for k in probs if k not in EMOTIONS)
    return [(name, field_number(probs.get(name)) or 0.0) for name in names]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(max(0.0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def local_time(iso: Any) -> str:
    """'2025-01-02T12:01:33.123Z' → '13:01:33' in the device's time zone."""
    if not isinstance(iso, str):
        return "--:--:--"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return iso[:19]


def event_line(event: Mapping[str, Any]) -> str:
    """'12:01:33 mood emotion=happy confidence=0.82' for any event."""
    fields = " ".join(f"{k}={_short(v)}" for k, v in event.items() if k not in _HIDDEN_EVENT_KEYS)
    return f"{local_time(event.get('at'))} {event.get('type', '?')} {fields}".rstrip()


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (dict, list)):
        return "{…}" if isinstance(value, dict) else "[…]"
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


def mqtt_summary(value: Any) -> str:
    """'connected (2 reconnects, backlog 0)' from the daemon's MQTT health, or a plain value."""
    if not isinstance(value, dict):
        return _short(value)
    if not value.get("enabled", True):
        return "off"
    if value.get("connected"):
        text = "connected"
    else:
        error = value.get("last_error")
        text = "disconnected" + (f": {_short(error)}" if error else "")
    details = [
        f"{value[k]} {label}"
        for k, label in (("reconnects", "reconnects"), ("outbox_backlog", "waiting in the outbox"))
        if field_number(value.get(k))
    ]
    return text + (f" ({', '.join(details)})" if details else "")


def library_summary(value: Mapping[str, Any]) -> str:
    """'812 of 5,000 tracks placed on the valence-arousal plane (running, ETA 14m 20s)' from the
    snapshot's library field; its problem (a music folder missing or empty) first."""
    problem = value.get("problem")
    if isinstance(problem, str) and problem:
        return f"PROBLEM: {problem}"
    tracks, analysed = field_number(value.get("tracks")), field_number(value.get("analysed"))
    if tracks is None or analysed is None:
        return "-"
    text = f"{int(analysed):,} of {int(tracks):,} tracks placed on the valence-arousal plane"
    failed = field_number(value.get("failed"))
    notes = [f"{int(failed):,} undecodable"] if failed else []
    unreadable = value.get("unreadable")
    if isinstance(unreadable, dict) and unreadable:
        notes.append(unreadable_note(unreadable, value.get("unreadable_files")))
    if value.get("running"):
        eta = field_number(value.get("eta_s"))
        notes.append("running" + (f", ETA {duration(eta)}" if eta is not None else ""))
    return text + (f" ({'; '.join(notes)})" if notes else "")


def unreadable_note(counts: Mapping[str, Any], named: Any) -> str:
    """'unreadable: m4p 2 (a.m4p, b.m4p), wma 1' from the library's per-format fields."""
    parts = []
    for fmt, count in counts.items():
        names = named.get(fmt) if isinstance(named, dict) else None
        shown = (
            ", ".join(str(p).rsplit("/", 1)[-1] for p in names or [])
            if isinstance(names, list)
            else ""
        )
        parts.append(f"{fmt} {count}" + (f" ({shown})" if shown else ""))
    return "unreadable: " + ", ".join(parts)


def frames_summary(status: Mapping[str, Any]) -> str:
    """'1234 (5 dropped, 0 bad)' from diagnostics, or the top-level frames_dropped."""
    diagnostics = field_dict(status.get("diagnostics"))
    frames = field_number(diagnostics.get("frames"))
    dropped = field_number(diagnostics.get("frames_dropped", status.get("frames_dropped")))
    bad = field_number(diagnostics.get("frames_bad"))
    if frames is None and dropped is None:
        return ""
    parts = [f"{int(dropped or 0)} dropped"] + ([f"{int(bad)} bad"] if bad is not None else [])
    head = f"{int(frames)} " if frames is not None else ""
    return f"{head}({', '.join(parts)})"


def bar(p: float, width: int, unicode: bool = True) -> str:
    p = min(1.0, max(0.0, p))
    if not unicode:
        return ("#" * round(p * width)).ljust(width, ".")
    eighths = round(p * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


# ---------------------------------------------------------------------------------------------
# moodpi status


def render_status(reading: StatusReading, unicode: bool = True) -> str:
    if reading.state in ("stopped", "unreadable") and reading.data is None:
        return _not_running(reading)
    status = reading.data or {}
    head = {
        "running": f"moodpi: running (pid {status.get('pid', '?')}, up "
        f"{duration(field_number(status.get('uptime_s')))}, "
        f"updated {reading.age_s or 0:.1f} s ago)",
        "stale": f"moodpi: STALE: no update for {duration(reading.age_s)} ({reading.error}; "
        "see journalctl -u moodpi)",
        "stopped": f"moodpi: stopped {duration(reading.age_s)} ago: {reading.error}\n"
        + ("" if _clean_stop(status) else f"{_SEE_LOGS}\n")
        + "last status:",
    }.get(reading.state, f"moodpi: {reading.state}")
    emotion, confidence, since = mood_of(status)
    conf = f" ({confidence:.2f})" if confidence is not None else ""
    fps = field_number(status.get("fps"))
    state = str(status.get("state", "-"))
    if reading.state == "stopped" and state != "stopped":  # killed: its last word was running
        state = f"stopped (last written: {state})"
    fields = {
        "state": state,
        "mood": f"{emotion}{conf}" + (f" since {local_time(since)}" if since else ""),
        "presence": presence(status),
        "detection": "on" if status.get("detection", True) else "off (camera released)",
        "camera": camera(status),
        "sees": sight(status),
        "now playing": now_playing(status),
        "fps": f"{fps:.1f}" if fps is not None else "-",
    }
    if status.get("led", "none") != "none":  # lit exactly while the camera is in use
        fields["status led"] = str(status["led"])
    fields.update({key: _short(status[key]) for key in _EXTRA_KEYS if key in status})
    if "mqtt" in status:
        fields["mqtt"] = mqtt_summary(status["mqtt"])
    if isinstance(status.get("library"), dict):
        fields["music library"] = library_summary(status["library"])
    frames = frames_summary(status)
    if frames:
        fields["frames"] = frames
    lines = [head] + [f"{name + ':':<16}{value}" for name, value in fields.items()]
    lines.append("probabilities:")
    lines += [f"  {name:<9} {bar(p, 30, unicode)} {p:.2f}" for name, p in probabilities(status)]
    events = [e for e in status.get("events") or [] if isinstance(e, dict)]
    lines.append("recent events:" if events else "recent events: none")
    lines += [f"  {event_line(e)}" for e in events[-10:]]
    return "\n".join(lines)


_SEE_LOGS = "  see: systemctl status moodpi; journalctl -u moodpi -n 50"


def _not_running(reading: StatusReading) -> str:
    return f"moodpi: not running: {reading.error}\n{_SEE_LOGS}"


def _clean_stop(status: Mapping[str, Any]) -> bool:
    """Stopped as asked (a SIGTERM, a replay's end): no logs to read."""
    return field_dict(status.get("stop")).get("exit_status") == 0


# Exit statuses of `moodpi status`, as systemctl's: 3 is the LSB "program is not running".
EX_STALE = 1
EX_NOT_RUNNING = 3
EX_UNKNOWN = 4


def status_file_for(args: argparse.Namespace) -> Path:
    from moodpi import config as cfg
    from moodpi.cli.config import config_file

    config = cfg.load(config_file(args))
    return status_path(config.state_path)


def cli_status(args: argparse.Namespace) -> int:
    reading = read_status(status_file_for(args))
    if getattr(args, "json", False):
        print(json.dumps(reading.as_json(), indent=2))
    else:
        print(render_status(reading))
    return {"running": 0, "stale": EX_STALE, "stopped": EX_NOT_RUNNING}.get(
        reading.state, EX_UNKNOWN
    )
