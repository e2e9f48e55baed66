"""The retained `<base>/state` document, built from the daemon's state."""

from __future__ import annotations

from moodpi.link.payloads import state_payload
from moodpi.state import QuietHours
from tests.support.state import NO_MUSIC, make_snapshot


def test_state_payload_carries_face_count_camera_and_quiet_hours() -> None:
    snapshot = make_snapshot(
        run_state="paused", mood=None, probabilities={}, presence=False, faces=2, music=NO_MUSIC,
        camera_in_use=False, quiet_hours=QuietHours(("22:00-07:00",), enabled=True, active=True),
    )  # fmt: skip
    state = state_payload(snapshot)
    assert (state["faces"], state["camera_in_use"]) == (2, False)
    assert (state["quiet_hours"], state["quiet_hours_active"]) == (True, True)
