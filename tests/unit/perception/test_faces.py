"""Which detector config.faces asks for (make_detector's table), and that each answers every
call the pipeline makes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodpi import config as config_mod
from moodpi.lab.replaygen import compose_frame
from moodpi.perception.detect.faces import DETECTORS, make_detector
from moodpi.perception.detect.haar import HaarDetector, HaarUnavailable
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


def test_every_detector_answers_the_pipelines_calls(all_faces: list[np.ndarray]) -> None:
    rng = np.random.default_rng(2)
    frame = compose_frame(all_faces[0], face_px=160, center=(320, 240), rng=rng)
    lores = cv2.resize(frame, (160, 120), interpolation=cv2.INTER_AREA)
    assert set(DETECTORS) == {"blazeface", "haar"}  # the names config.faces.detector allows
    for faces in ({"reach_m": 0}, {"reach_m": 4.0}, {"detector": "haar"}):
        detector = make_detector(config_mod.from_dict({"faces": faces}))
        try:
            detector.open()
        except HaarUnavailable:
            continue  # OpenCV 5 without the contrib build: test_haar says so
        still = detector.scan(frame)
        assert len(still) == 1, faces
        if not isinstance(detector, RoomDetector):  # one pass: a still is one frame
            assert detector.detect(frame, lores) == detector.detect(frame) == still
        detector.close()
