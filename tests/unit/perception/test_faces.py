"""Which detector config.faces asks for: make_detector's table."""

from __future__ import annotations

from pathlib import Path

from moodpi import config as config_mod
from moodpi.perception.detect.faces import make_detector
from moodpi.perception.detect.haar import HaarDetector
from moodpi.perception.detect.room import RoomDetector
from moodpi.perception.detect.whole_frame import WholeFrameDetector
from tests.support.faces import BLAZEFACE as MODEL


def test_make_detector_follows_the_config() -> None:
    room = make_detector(config_mod.from_dict({"faces": {"min_score": 0.7, "reach_m": 4.0}}))
    assert isinstance(room, RoomDetector)
    assert (room.min_score, room.model_path) == (0.7, MODEL)
    # 4 m through the default 66 degree lens in a 1280 px frame: a face box about 37 px wide
    assert 36.0 < room.smallest_face_px < 38.0
    single = {"faces": {"min_score": 0.7, "min_size_px": 40, "reach_m": 0}}
    blaze = make_detector(config_mod.from_dict(single))
    assert isinstance(blaze, WholeFrameDetector)
    assert (blaze.min_score, blaze.min_size_px, blaze.model_path) == (0.7, 40, MODEL)
    haar = make_detector(
        config_mod.from_dict({"faces": {"detector": "haar", "haar_cascade": "/x.xml"}})
    )
    assert isinstance(haar, HaarDetector) and haar.cascade_path == Path("/x.xml")
