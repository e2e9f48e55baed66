"""The one fake clock: code that takes `clock` (and `sleep`) as arguments runs on a time the test
sets by hand. Seconds (monotonic or epoch, from 0 unless told) or a wall-clock datetime."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, overload

Now = TypeVar("Now", float, datetime)


class FakeClock(Generic[Now]):
    """Calling it says `now`; `sleep(s)` records the wait and moves `now` on by it."""

    @overload
    def __init__(self: FakeClock[float], now: float = 0.0) -> None: ...
    @overload
    def __init__(self: FakeClock[datetime], now: datetime) -> None: ...
    def __init__(self, now: Any = 0.0) -> None:
        self.now: Now = now
        self.sleeps: list[float] = []

    def __call__(self) -> Now:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if isinstance(self.now, datetime):
            self.now = self.now + timedelta(seconds=seconds)
        else:
            self.now = self.now + seconds
