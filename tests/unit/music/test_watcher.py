"""The library thread of the daemon: a flat library scanned and placed by the analyser's child."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from musicgen import write_clip


@pytest.mark.slow
def test_the_daemon_s_music_stage_analyses_a_flat_library_in_a_child(tmp_path: Path) -> None:
    from moodpi import config as config_mod
    from moodpi.events import EventHub
    from moodpi.music.jukebox import Jukebox
    from moodpi.types import MoodChange

    for i, category in enumerate(("sad", "happy")):
        write_clip(tmp_path / "music" / f"{i}.wav", category, seconds=2.0)
    config = config_mod.from_dict(
        {"state_dir": str(tmp_path / "state"), "music": {"root": str(tmp_path / "music")}}
    )
    jukebox = Jukebox(config, EventHub(), audio=False, clock=time.monotonic)
    jukebox.start()  # first run, nothing to play: waits (up to 10 s) for the first placements
    try:
        assert jukebox.library is not None
        # a loaded machine may take longer than start()'s wait: the placements still land
        deadline = time.monotonic() + 60
        while len(jukebox.library.placed_tracks()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(jukebox.library.placed_tracks()) == 2
        deadline = time.monotonic() + 5
        while (jukebox.state().library or None) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        state = jukebox.state().library
        assert state is not None and (state.tracks, state.analysed) == (2, 2)
        jukebox.on_mood(MoodChange("sad", 0.9, 0.0))
        assert jukebox.director is not None and jukebox.director.current is not None
        assert jukebox.director.current.category == "sad"  # served from the plane
    finally:
        jukebox.stop()
