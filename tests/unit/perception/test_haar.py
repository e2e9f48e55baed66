"""OpenCV's Haar cascade on frames composed from real FER-2013 faces (needs an OpenCV with
CascadeClassifier and a cascade file; OpenCV 5 wheels lack both), and what it says when it
cannot run."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from moodpi.lab.replaygen import compose_frame, face_box
from moodpi.perception.detect.haar import HaarDetector, HaarUnavailable, haar_cascade_path
from tests.support.faces import box_iou


def _haar_or_skip() -> HaarDetector:
    detector = HaarDetector(min_neighbors=3, min_size_px=48)
    try:
        detector.open()
    except HaarUnavailable as exc:
        pytest.skip(str(exc))
    return detector


@pytest.mark.slow
def test_haar_finds_most_faces_and_nothing_in_empty_rooms(all_faces: list[np.ndarray]) -> None:
    haar = _haar_or_skip()
    rng = np.random.default_rng(3)
    hits = 0
    for face in all_faces:
        frame = compose_frame(face, face_px=180, center=(320, 240), rng=rng)
        hits += any(box_iou(f, face_box(180, (320, 240))) > 0.3 for f in haar.detect(frame))
    assert hits >= 0.7 * len(all_faces)
    assert sum(len(haar.detect(compose_frame(None, rng=rng))) for _ in range(20)) <= 1


def test_haar_reports_what_is_missing(tmp_path: Path) -> None:
    if not hasattr(cv2, "CascadeClassifier"):
        with pytest.raises(HaarUnavailable, match="CascadeClassifier"):
            HaarDetector(tmp_path / "x.xml").open()
    with pytest.raises(HaarUnavailable, match=r"faces\.haar_cascade"):
        haar_cascade_path("no_such_cascade.xml", extra_dirs=[tmp_path])
