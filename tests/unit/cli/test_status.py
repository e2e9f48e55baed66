"""`moodpi status`: the music library's analysis progress in one line."""

from __future__ import annotations


def test_status_shows_analysis_progress() -> None:
    from moodpi.cli.status import library_summary

    running = {"tracks": 5000, "analysed": 812, "failed": 3, "running": True, "eta_s": 860.0}
    assert library_summary(running) == "analysed 812 of 5,000 (3 undecodable; running, ETA 14m 20s)"
    assert library_summary({"tracks": 10, "analysed": 10, "failed": 0, "running": False}) == (
        "analysed 10 of 10"
    )
    assert library_summary({"tracks": "x"}) == "-"
