"""`moodpi tail`: a live view of the daemon's status file, redrawn in place on a terminal,
new lines only on a pipe. Like `moodpi status`, it reads a document another process (perhaps
another version) wrote, through the tolerant readers of status.py; it needs no camera."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from moodpi.cli.status import (
    bar,
    duration,
    event_line,
    local_time,
    probabilities,
    status_file_for,
)
from moodpi.system.status import (
    StatusReading,
    field_number,
    mood_of,
    now_playing,
    presence,
    read_status,
    summary,
)

_CLEAR_TO_END = "\x1b[J"
_CLEAR_LINE = "\x1b[K"
_HOME = "\x1b[H"


class TailView:
    """Turns successive readings into output: a redrawn screen on a TTY, else new lines only."""

    def __init__(self, width: int = 80, height: int = 24, unicode: bool = True) -> None:
        self.width = width
        self.height = height
        self.unicode = unicode
        self._last_seq: float = -1.0
        self._instance: Any = None
        self._last_summary: str | None = None
        self._last_state: str | None = None

    def new_events(self, reading: StatusReading) -> list[dict[str, Any]]:
        """Events not shown yet (by seq; a restarted daemon starts a new sequence)."""
        status = reading.data or {}
        instance = (status.get("pid"), status.get("started_at"))
        if instance != self._instance:
            self._instance, self._last_seq = instance, -1.0
        fresh = []
        for event in status.get("events") or []:
            seq = field_number(event.get("seq")) if isinstance(event, dict) else None
            if seq is not None and seq > self._last_seq:
                fresh.append(event)
                self._last_seq = seq
        return fresh

    def plain_lines(self, reading: StatusReading) -> list[str]:
        """For a pipe or a log: state changes, each event once, the mood line when it changes."""
        lines = []
        if reading.state != self._last_state:
            self._last_state = reading.state
            if reading.state != "running":
                lines.append(f"{time.strftime('%H:%M:%S')} daemon {reading.state}: {reading.error}")
        if reading.data is None:
            return lines
        lines += [event_line(e) for e in self.new_events(reading)]
        line = summary(reading.data)
        if line != self._last_summary and reading.state == "running":
            self._last_summary = line
            probs = " ".join(f"{n}={p:.2f}" for n, p in probabilities(reading.data))
            lines.append(f"{time.strftime('%H:%M:%S')} {line} | {probs}")
        return lines

    def screen(self, reading: StatusReading) -> list[str]:
        """The full-screen view: header, one bar per emotion, the latest events."""
        if reading.data is None:
            return [f"moodpi tail: waiting for the daemon ({reading.error})", "", "Ctrl-C to quit"]
        status = reading.data
        self.new_events(reading)
        width = max(40, self.width)
        emotion, confidence, since = mood_of(status)
        state = reading.state if reading.state != "running" else status.get("state", "running")
        uptime = duration(field_number(status.get("uptime_s")))
        head = f"moodpi {state}  up {uptime}  {time.strftime('%H:%M:%S')}"
        conf = f" {confidence:.2f}" if confidence is not None else ""
        mood = f"mood: {emotion.upper()}{conf}" + (f" since {local_time(since)}" if since else "")
        lines = [
            head[:width],
            f"{mood}   presence: {presence(status)}"[:width],
            f"playing: {now_playing(status)}"[:width],
            "",
        ]
        bar_width = max(10, width - 18)
        for name, p in probabilities(status):
            mark = "▶" if name == emotion and self.unicode else ">" if name == emotion else " "
            lines.append(f"{mark}{name:<9} {bar(p, bar_width, self.unicode)} {p:4.2f}"[:width])
        lines += ["", "events:"]
        events = [e for e in status.get("events") or [] if isinstance(e, dict)]
        room = max(1, self.height - len(lines) - 1)
        lines += [f" {event_line(e)}"[:width] for e in events[-room:]]
        return lines


def run_tail(
    path: Path,
    interval_s: float = 0.5,
    out: TextIO | None = None,
    tty: bool | None = None,
    max_polls: int | None = None,
) -> int:
    """Poll the status file until Ctrl-C (or max_polls, for tests). Needs no camera."""
    out = sys.stdout if out is None else out
    tty = out.isatty() if tty is None else tty
    unicode = "utf" in (getattr(out, "encoding", None) or "utf-8").lower()
    size = shutil.get_terminal_size((80, 24))
    view = TailView(size.columns, size.lines, unicode)
    polls = 0
    try:
        if tty:
            out.write("\x1b[?25l\x1b[2J")  # hide the cursor, clear once; then redraw in place
        while max_polls is None or polls < max_polls:
            reading = read_status(path)
            if tty:
                size = shutil.get_terminal_size((80, 24))
                view.width, view.height = size.columns, size.lines
                body = _CLEAR_LINE + "\n".join(view.screen(reading)).replace(
                    "\n", _CLEAR_LINE + "\n"
                )
                out.write(_HOME + body + _CLEAR_TO_END)
            else:
                for line in view.plain_lines(reading):
                    out.write(line + "\n")
            out.flush()
            polls += 1
            if max_polls is None or polls < max_polls:
                time.sleep(interval_s)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `moodpi tail | head`: the reader left, which is fine
        with contextlib.suppress(OSError, ValueError):
            # Python flushes stdout again at exit; point it at /dev/null so that does not fail.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
        return 0
    finally:
        if tty:
            with contextlib.suppress(OSError):
                out.write("\x1b[?25h\n")
                out.flush()
    return 0


def cli_tail(args: argparse.Namespace) -> int:
    # A parent that ignores SIGINT (a script's `trap '' INT`, some test runners) passes that on
    # to us; Ctrl-C must still stop the view.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return run_tail(status_file_for(args), interval_s=float(getattr(args, "interval", 0.5) or 0.5))
