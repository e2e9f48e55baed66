"""Events: one numbered, timestamped record for all worth telling (mood, presence, plays, errors).

The hub gives each event its `seq` (from the journal when there is one, so numbering survives a
restart and MQTT subscribers can de-duplicate), `t` (seconds on the frame clock since the first
frame) and `at` (ISO 8601 UTC), then hands it to every sink. A failing sink is logged once and never
stops the others: the pipeline must not die because a disk filled up or stdout was closed.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

Event = dict[str, Any]
Sink = Callable[[Event], None]

# Events that change what the room "is"; only these go to the MQTT outbox.
OUTBOX_TYPES = frozenset({"mood", "presence"})


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventHub:
    def __init__(self, next_seq: Callable[[], int] | None = None, recent: int = 20) -> None:
        counter = itertools.count(1)
        self._next_seq = next_seq or (lambda: next(counter))
        self._sinks: list[tuple[str, Sink]] = []
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self.recent: deque[Event] = deque(maxlen=recent)

    def add_sink(self, name: str, sink: Sink) -> None:
        self._sinks.append((name, sink))

    def emit(self, event_type: str, t: float, **fields: Any) -> Event:
        with self._lock:  # player and MQTT threads emit too; keep seq order == delivery order
            event: Event = {
                "type": event_type,
                "seq": self._next_seq(),
                "t": round(t, 3),
                "at": utc_now_iso(),
            }
            event.update(fields)
            self.recent.append(event)
            for name, sink in self._sinks:
                self._deliver(name, sink, event)
        return event

    def _deliver(self, name: str, sink: Sink, event: Event) -> None:
        try:
            sink(event)
        except Exception as exc:  # a sink must never take the pipeline down
            if name not in self._failed:
                self._failed.add(name)
                log.error("event sink %s failed (further failures are silent): %s", name, exc)


class JsonlSink:
    """Writes each event as one JSON line to a file or stdout ('-'), flushed per line."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._stream: IO[str] | None = None

    def open(self) -> None:
        if self._target == "-":
            self._stream = sys.stdout
        else:
            Path(self._target).parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(self._target, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def __call__(self, event: Event) -> None:
        if self._stream is not None:
            self._stream.write(json.dumps(event, separators=(",", ":")) + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
        self._stream = None
