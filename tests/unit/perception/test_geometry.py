"""Face width in pixels and distance in metres, and how far the camera has seen lately."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("face_px", "metres"), [(74, 1.0), (37, 2.0), (25, 3.0), (18, 4.0)])
def test_distance_from_box_width_matches_the_issue_geometry(face_px: int, metres: float) -> None:
    from moodpi.perception.detect.geometry import distance_m, face_width_px

    # Camera Module 3 (66 degrees) in a 640 px frame: 74 px at 1 m ... 18 px at 4 m.
    assert distance_m(face_px, 640, 66.0) == pytest.approx(metres, rel=0.03)
    assert face_width_px(metres, 640, 66.0) == pytest.approx(face_px, abs=0.7)
    # The same face in a frame twice as wide is twice the pixels; a wider lens sees it smaller.
    assert distance_m(2 * face_px, 1280, 66.0) == pytest.approx(distance_m(face_px, 640, 66.0))
    assert distance_m(face_px, 640, 102.0) < distance_m(face_px, 640, 66.0)
    with pytest.raises(ValueError):
        distance_m(0, 640)


def test_reach_keeps_the_smallest_face_of_the_last_ten_minutes_in_a_few_entries() -> None:
    from moodpi.perception.detect.geometry import Reach
    from moodpi.types import Face

    reach = Reach(hfov_deg=66.0)
    assert reach.sight(0.0) is None
    for t in range(0, 300):  # five minutes at 1 fps: a near face, once a far one
        reach.add_faces([Face(0, 0, 80, 80), Face(0, 0, 25 if t == 100 else 60, 60)], 640, t)
    sight = reach.sight(300.0)
    assert sight is not None and (sight.smallest_face_px, sight.frame_width_px) == (25, 640)
    assert sight.farthest_m == pytest.approx(3.0, abs=0.05)
    assert len(reach._buckets) <= 11  # bounded, whatever the frame rate
    later = reach.sight(100.0 + 700.0)  # the far face is older than ten minutes now
    assert later is not None and later.smallest_face_px == 60
    reach.add(100, 1280, 900.0)  # relative to its frame: 100 of 1280 is smaller than 60 of 640
    assert reach.sight(900.0).smallest_face_px == 100  # type: ignore[union-attr]
