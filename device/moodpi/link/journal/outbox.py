"""The outbox: events waiting for the broker, in `seq` order, acknowledged one by one.

The SQLite journal (store.Journal) is the durable one; `MemoryOutbox` stands in when history is
off, bounded so that a broker away for days cannot eat the Pi's memory.
"""

from __future__ import annotations

import threading
from collections import deque
from itertools import islice
from typing import Any, Protocol


class Outbox(Protocol):
    """Undelivered events in `seq` order (store.Journal implements it)."""

    def pending(self, limit: int = 100) -> list[dict[str, Any]]: ...

    def ack(self, seq: int) -> None: ...


class MemoryOutbox:
    """A bounded in-memory outbox for running without a journal (oldest dropped first, counted)."""

    def __init__(self, max_events: int = 1000) -> None:
        self._events: deque[dict[str, Any]] = deque()
        self._max_events = max_events
        self._lock = threading.Lock()
        self.dropped = 0

    def enqueue(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self._events) >= self._max_events:
                self._events.popleft()
                self.dropped += 1
            self._events.append(dict(event))

    def pending(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in islice(self._events, limit)]

    def ack(self, seq: int) -> None:
        with self._lock:
            self._events = deque(e for e in self._events if e.get("seq") != seq)

    def __len__(self) -> int:
        return len(self._events)
