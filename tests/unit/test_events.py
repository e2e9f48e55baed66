"""The three track events carry one TrackInfo; their JSON stays the documented flat object."""

from __future__ import annotations

import json

import pytest

from moodpi.events import (
    Event,
    Payload,
    TrackEnded,
    TrackInfo,
    TrackSkipped,
    TrackStarted,
    payload_fields,
)
from tests.support.daemon import REPO

AT = "2026-11-23T12:00:38.552Z"
EPOCH = "3f9c2a71d04e"
HEAD = f'"epoch":"{EPOCH}","t":1.1,"at":"{AT}"'
TRACK = '"path":"a/b.ogg","category":"sad","title":"B","artist":"Art","duration_s":12.5'
INFO = TrackInfo("a/b.ogg", "sad", "B", "Art", 12.5, audio=True)
SILENT = TrackInfo("a/b.ogg", "sad", "B", "Art", 12.5, audio=False)


def _line(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        (TrackStarted(INFO, fade_in_ms=1500), f'{TRACK},"audio":true,"fade_in_ms":1500'),
        (
            TrackEnded(SILENT, reason="finished", played_s=12.3),
            f'{TRACK},"audio":false,"reason":"finished","played_s":12.3',
        ),
        (TrackSkipped(INFO, reason="user"), f'{TRACK},"audio":true,"reason":"user"'),
    ],
)
def test_track_events_are_flat_json_in_the_documented_order(payload: Payload, fields: str) -> None:
    """Byte for byte what the events were before TrackInfo: the track's fields, then the event's."""
    event = Event(2, 1.1, AT, payload, epoch=EPOCH)
    assert _line(event.as_dict()) == f'{{"type":"{payload.TYPE}","seq":2,{HEAD},{fields}}}'
    assert _line(payload_fields(payload)) == f'{{"type":"{payload.TYPE}",{fields}}}'


def test_the_documented_example_is_what_the_event_writes() -> None:
    example = next(
        line
        for line in (REPO / "docs" / "events.md").read_text().splitlines()
        if line.startswith('{"type":"track_started"')
    )
    info = TrackInfo("demo/music/happy/happy_2.wav", "happy", "happy_2", "", 12.0, audio=True)
    event = Event(3, 1.1, "2026-11-23T12:00:38.552Z", TrackStarted(info, 1500), epoch=EPOCH)
    assert _line(event.as_dict()) == example
