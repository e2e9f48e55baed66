"""`moodpi doctor`'s devices: how far the setup sees, by the config and by the daemon."""

from __future__ import annotations

from pathlib import Path

from moodpi.system.status_reader import read_status
from tests.support.state import read_back, written_status


def test_doctor_says_how_far_the_setup_sees(tmp_path: Path) -> None:
    from moodpi import config as config_mod
    from moodpi.cli.doctor.devices import reach

    config = config_mod.from_dict(
        {"camera": {"width": 640, "hfov_deg": 66.0}, "faces": {"min_size_px": 37}}
    )
    sight = {"smallest_face_px": 25, "frame_width_px": 640, "farthest_m": 2.96, "window_s": 600}
    text = reach(config, read_back(tmp_path, written_status(sight=sight)))
    assert text.startswith("set up to find faces to about 2.0 m (640 px wide, 66°")
    assert text.endswith("daemon found faces to about 3.0 m (smallest 25 px of 640, last 10 min)")
    assert "daemon found" not in reach(config, read_status(tmp_path / "none.json"))
