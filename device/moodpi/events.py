"""Events: one numbered, timestamped record for all worth telling (mood, presence, plays, errors).

Each kind is a small frozen dataclass (its `TYPE` is the JSON "type"); the hub wraps it in an
`Event`, and only the sinks (JSON lines, journal, MQTT) turn it into a dict.

The hub gives each event its `seq` (from the journal when there is one, so numbering survives a
restart and MQTT subscribers can de-duplicate), `t` (seconds on the frame clock since the first
frame) and `at` (ISO 8601 UTC), then hands it to every sink. A failing sink is logged once and never
stops the others: the pipeline must not die because a disk filled up or stdout was closed.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, ClassVar

from moodpi.types import Emotion

log = logging.getLogger(__name__)

# JSON values as they leave the device (docs/events.md).
Json = None | bool | int | float | str | list["Json"] | dict[str, "Json"]


@dataclass(frozen=True)
class MoodEvent:
    """The debounced mood changed; `confidence` is the smoothed probability."""

    TYPE: ClassVar[str] = "mood"
    emotion: Emotion
    confidence: float


@dataclass(frozen=True)
class PresenceEvent:
    """The first face appeared, or nobody was seen for mood.absent_after_s."""

    TYPE: ClassVar[str] = "presence"
    present: bool


@dataclass(frozen=True)
class TrackInfo:
    """The track a track event is about; its fields lead the event's own in the JSON object."""

    path: str
    category: str
    title: str
    artist: str
    duration_s: float
    audio: bool  # False: no sound device, playing silently


@dataclass(frozen=True)
class TrackStarted:
    TYPE: ClassVar[str] = "track_started"
    track: TrackInfo
    fade_in_ms: int


@dataclass(frozen=True)
class TrackEnded:
    """`reason`: finished (natural end) | faded | replaced (by another track) | stopped."""

    TYPE: ClassVar[str] = "track_ended"
    track: TrackInfo
    reason: str
    played_s: float


@dataclass(frozen=True)
class TrackSkipped:
    """`reason`: "user", or why the file could not be played (missing file, empty file, ...)."""

    TYPE: ClassVar[str] = "track_skipped"
    track: TrackInfo
    reason: str


@dataclass(frozen=True)
class ComponentError:
    """A component degraded (e.g. no audio device); said once per loss."""

    TYPE: ClassVar[str] = "error"
    component: str
    message: str


@dataclass(frozen=True)
class Recovered:
    TYPE: ClassVar[str] = "recovered"
    component: str
    message: str


PlayerEvent = TrackStarted | TrackEnded | TrackSkipped | ComponentError | Recovered
Payload = MoodEvent | PresenceEvent | PlayerEvent
# Events that change what the room "is"; only these go to the MQTT outbox.
ROOM_EVENTS = (MoodEvent, PresenceEvent)


def payload_fields(payload: Payload) -> dict[str, Json]:
    """{"type": ..., **fields}: a payload as plain data."""
    return {"type": payload.TYPE, **_fields(payload)}


def _fields(payload: Payload) -> dict[str, Json]:
    """A payload's fields in order, a track's own in the place of `track` (docs/events.md)."""
    fields: dict[str, Json] = {}
    for field in dataclasses.fields(payload):
        value = getattr(payload, field.name)
        if isinstance(value, TrackInfo):
            fields.update(dataclasses.asdict(value))
        else:
            fields[field.name] = value
    return fields


@dataclass(frozen=True)
class Event:
    """One numbered, timestamped payload: `seq` (grows across restarts), `epoch` (with seq, the
    event's identity: a new epoch means numbering may have started again; moodpi.link.identity),
    `t` (frame-clock seconds since the first frame) and `at` (ISO 8601 UTC)."""

    seq: int
    t: float
    at: str
    payload: Payload
    epoch: str = ""

    @property
    def type(self) -> str:
        return self.payload.TYPE

    def as_dict(self) -> dict[str, Json]:
        """The event's JSON object (docs/events.md): type, seq, t, at, then the payload's fields."""
        return {
            "type": self.payload.TYPE,
            "seq": self.seq,
            **({"epoch": self.epoch} if self.epoch else {}),
            "t": self.t,
            "at": self.at,
            **_fields(self.payload),
        }


Sink = Callable[[Event], None]


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventHub:
    def __init__(
        self,
        next_seq: Callable[[], int] | None = None,
        recent: int = 20,
        epoch: Callable[[], str] | None = None,
    ) -> None:
        counter = itertools.count(1)
        self._next_seq = next_seq or (lambda: next(counter))
        self._epoch = epoch or (lambda: "")
        self._sinks: list[tuple[str, Sink]] = []
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self.recent: deque[Event] = deque(maxlen=recent)

    def add_sink(self, name: str, sink: Sink) -> None:
        self._sinks.append((name, sink))

    def emit(self, payload: Payload, t: float) -> Event:
        with self._lock:  # player and MQTT threads emit too; keep seq order == delivery order
            seq = self._next_seq()  # first: taking a seq may start a new epoch
            event = Event(seq, round(t, 3), utc_now_iso(), payload, epoch=self._epoch())
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
            self._stream.write(json.dumps(event.as_dict(), separators=(",", ":")) + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
        self._stream = None
