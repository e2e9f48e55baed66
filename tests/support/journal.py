"""A journal written the way the daemon writes it, for the tests of the journal and of what reads
it back (`moodpi history`): events stamped at a chosen time, on a clock the test sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moodpi.link.journal import Journal
from tests.support.clock import FakeClock

DAY_S = 86400.0
T0 = datetime(2024, 5, 1, 22, 0, tzinfo=UTC).timestamp()  # 22:00 UTC, two hours before midnight


def iso(s: float) -> str:
    return datetime.fromtimestamp(s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(journal: Journal, kind: str, at_s: float, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "seq": journal.next_seq(), "t": 0.0, "at": iso(at_s), **fields}


def journal_at(path: Path, clock: FakeClock[float] | None = None, **kw: Any) -> Journal:
    options = {"retention_days": 30, "outbox_max": 1000, **kw}
    return Journal(path, clock=clock or FakeClock(T0), **options)
