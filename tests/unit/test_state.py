"""The daemon's state: the face count shown is steady over a window of frames."""

from __future__ import annotations


def test_face_count_is_the_most_frequent_of_the_last_second_and_falls_to_zero() -> None:
    from moodpi.state import FaceCounter

    counter = FaceCounter(window_s=1.0)
    assert counter.count(0.0) == 0
    for i, n in enumerate([2, 2, 1, 2, 2, 3, 2, 2, 2, 1]):  # a detector missing one now and then
        counter.add(n, i * 0.1)
    assert counter.count(0.95) == 2
    for i in range(6):  # one person left: after half a second of 1s the count follows
        counter.add(1, 1.0 + i * 0.1)
    assert counter.count(1.55) == 1
    assert counter.count(3.0) == 0  # no frame in the last second (camera released, nobody)
    counter.add(0, 3.1)
    assert counter.count(3.1) == 0
