"""The offline analysis: descriptors, tags, the valence-arousal model, the analyser process and
its cache (real soundfile, real SQLite, real files; no fakes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import TBPM, TCON, TKEY, TMOO
from mutagen.wave import WAVE

from moodpi.music import analyser, features, library_db
from moodpi.music.library import Library
from moodpi.music.mood_model import MoodModel
from moodpi.music.tag_evidence import map_genres, parse_key, read_tags
from musicgen import MAJOR, MINOR, Style, _write_wav, render, write_clip

RATE = features.RATE_HZ


def _piece(path: Path, *, minor: bool, bpm: float, root: int = 60, seconds: float = 8.0) -> Path:
    style = Style(bpm, MINOR if minor else MAJOR, root, (0, 3, 4, 0), "arp", beat=True)
    _write_wav(path, render(style, seconds, np.random.default_rng(0)))
    return path


@pytest.mark.parametrize(("minor", "bpm", "root"), [(False, 120, 60), (True, 96, 57)])
def test_descriptors_find_key_mode_and_tempo_of_a_known_piece(
    tmp_path: Path, minor: bool, bpm: float, root: int
) -> None:
    found = features.describe_file(_piece(tmp_path / "p.wav", minor=minor, bpm=bpm, root=root))
    assert (found.key, found.mode) == (features.KEYS[root % 12], "minor" if minor else "major")
    assert any(abs(found.tempo_bpm - bpm * k) <= 0.04 * bpm * k for k in (0.5, 1, 2))
    assert -40 < found.loudness_db < 0
    assert len(found.vector) > 40 and all(np.isfinite(list(found.vector.values())))


def test_loudness_is_rms_in_dbfs() -> None:
    t = np.arange(RATE * 2) / RATE
    assert features.describe(0.5 * np.sin(2 * np.pi * 440 * t)).loudness_db == pytest.approx(
        -9.03, abs=0.2
    )


def test_an_undecodable_file_raises_a_decode_error(tmp_path: Path) -> None:
    bad = tmp_path / "song.m4a"
    bad.write_bytes(b"\x00\x00\x00\x20ftypM4A " + os.urandom(2000))
    with pytest.raises(features.DecodeError):
        features.decode_excerpt(bad)


def test_key_tags_in_every_spelling() -> None:
    table = {"Am": ("A", "minor"), "F# minor": ("F#", "minor"), "Bbmaj": ("A#", "major"),
             "8A": ("A", "minor"), "8B": ("C", "major"), "1A": ("G#", "minor"),
             "Ebm": ("D#", "minor"), "C": ("C", "major"), "nonsense": ("", "")}  # fmt: skip
    assert {text: parse_key(text) for text in table} == table
    assert map_genres(["Alternative Rock", "Hip-Hop"]) == ("Pop/Rock", "Rap")
    assert map_genres(["Polka"]) == ()


def test_tags_are_read_from_a_real_file(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "t.wav", "happy", seconds=1.0)
    audio = WAVE(path)
    audio.add_tags()
    for frame in (TCON(text=["Synthpop"]), TMOO(text=["Happy; Energetic"]), TBPM(text=["128"]),
                  TKEY(text=["Am"])):  # fmt: skip
        audio.tags.add(frame)
    audio.save()
    tags = read_tags(path)
    assert (tags.genres, tags.bpm, tags.key, tags.mode, tags.mood_words) == (
        ("Pop/Rock",), 128.0, "A", "minor", 2,
    )  # fmt: skip
    assert tags.mood_point is not None and tags.mood_point[0] > 0.5


def test_the_shipped_model_places_within_the_plane_and_mood_words_pull() -> None:
    model = MoodModel.load()
    vector = {"rms_db_mean": -8.0, "rms_db_median": -8.0, "centroid_log": 11.5}
    place = model.place(vector)
    assert -1 <= place.valence <= 1 and -1 <= place.arousal <= 1 and 0 <= place.confidence <= 1
    assert place.evidence == "audio"
    from moodpi.music.tag_evidence import TagEvidence

    sad = TagEvidence((), (-0.7, -0.4), 3, None, "", "")
    pulled = model.place(vector, sad)
    assert pulled.valence < place.valence and pulled.evidence == "audio+mood"
    genre = model.place(vector, TagEvidence(("Rap",), None, 0, None, "", ""))
    assert genre.evidence == "audio+genre"


# -- the analyser and its cache ----------------------------------------------------------------


@pytest.fixture
def flat_library(tmp_path: Path) -> Library:
    root = tmp_path / "music"
    for i, category in enumerate(("sad", "angry", "calming")):
        write_clip(root / f"track_{i}.wav", category, seconds=3.0)
    library = Library(root, cache_path=tmp_path / "state" / "library.sqlite3")
    library.scan()
    return library


def _placed(library: Library) -> int:
    library.load()
    return len(library.placed_tracks())


def test_analyser_places_every_track_once_and_again_only_what_changed(
    flat_library: Library,
) -> None:
    cache = flat_library.cache_path
    assert cache is not None
    first = analyser.run(cache)
    assert (first.analysed, first.failed, first.left) == (3, 0, 0)
    assert first.cpu_s_per_track < 1.0
    assert _placed(flat_library) == 3
    assert analyser.run(cache).analysed == 0  # cached by path, size and mtime
    changed = flat_library.all_tracks()[0].path
    write_clip(changed, "happy", seconds=4.0)
    flat_library.scan()
    assert _placed(flat_library) == 2  # the changed file's old place no longer counts
    assert analyser.run(cache).analysed == 1
    with library_db.connect(cache) as db:
        progress = library_db.read_progress(db)
    assert progress is not None and progress.finished and progress.total == 1


def test_an_interrupted_analysis_resumes_where_it_stopped(flat_library: Library) -> None:
    cache = flat_library.cache_path
    assert cache is not None
    assert analyser.run(cache, limit=1).analysed == 1
    coverage = library_db.coverage(cache)
    assert coverage is not None and (coverage.tracks, coverage.analysed) == (3, 1)
    assert analyser.run(cache).analysed == 2


def test_one_analyser_at_a_time(flat_library: Library) -> None:
    cache = flat_library.cache_path
    assert cache is not None
    with analyser._exclusive(cache) as mine:
        assert mine
        assert analyser.run(cache).skipped_running
    assert analyser.run(cache).analysed == 3


def test_undecodable_files_are_skipped_with_one_line_and_remembered(
    flat_library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    cache = flat_library.cache_path
    assert cache is not None and flat_library.root is not None
    fake = flat_library.root / "broken.ogg"
    fake.write_bytes(b"OggS" + os.urandom(4000))
    # mutagen may or may not accept it; make the scan list it as readable either way
    flat_library.scan()
    with library_db.connect(cache) as db:
        db.execute("UPDATE files SET error = '', duration_s = 1 WHERE path = ?",
                   (library_db.key(str(fake)),))  # fmt: skip
    report = analyser.run(cache)
    assert (report.analysed, report.failed) == (3, 1)
    assert [r.getMessage() for r in caplog.records if "broken.ogg" in r.getMessage()] != []
    assert analyser.run(cache).failed == 0  # not retried until the file changes


def test_progress_line_shows_count_rate_and_eta() -> None:
    line = analyser.progress_line(library_db.Progress(1, 100.0, 110.0, 50, 20, 0, False))
    assert "20/50" in line and "40%" in line and "2.0 tracks/s" in line and "ETA 0m 15s" in line


@pytest.mark.slow
def test_analyser_process_survives_kill_9_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "music"
    for i in range(12):
        write_clip(root / f"t{i:02d}.wav", ("sad", "happy", "angry")[i % 3], seconds=6.0, variant=i)
    library = Library(root, cache_path=tmp_path / "library.sqlite3")
    library.scan()
    child = subprocess.Popen([sys.executable, "-m", "moodpi.music.analyser", "--cache",
                              str(library.cache_path)], stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = library_db.coverage(tmp_path / "library.sqlite3")
        if found is not None and found.analysed >= 2:
            break
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=5)
    done = library_db.coverage(tmp_path / "library.sqlite3")
    assert done is not None and 2 <= done.analysed < 12
    assert analyser.run(tmp_path / "library.sqlite3").analysed == 12 - done.analysed


def test_the_daemon_never_imports_the_analyser() -> None:
    heavy = "('scipy', 'soundfile', 'moodpi.music.features', 'moodpi.music.analyser')"
    code = ("import sys, moodpi.app, moodpi.music.stage; "
            f"bad = [m for m in {heavy} if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_scan_analyses_and_show_json_keeps_its_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import json

    from moodpi.cli.library import cli_library

    for i, category in enumerate(("sad", "angry")):
        write_clip(tmp_path / "music" / f"{i}.wav", category, seconds=2.0)
    cfg = tmp_path / "moodpi.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "music"\n')
    scan = argparse.Namespace(action="scan", json=True, config=str(cfg), no_analysis=False)
    assert cli_library(scan) == 0
    assert json.loads(capsys.readouterr().out)["analysis"]["analysed"] == 2
    assert cli_library(argparse.Namespace(action="show", json=True, config=str(cfg))) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    contract = {"path", "valence", "arousal", "tempo_bpm", "key", "mode", "confidence"}
    assert len(rows) == 2 and all(contract <= row.keys() for row in rows)
    for row in rows:
        assert -1 <= row["valence"] <= 1 and -1 <= row["arousal"] <= 1
        assert row["mode"] in ("major", "minor") and row["key"] in features.KEYS
        assert row["tempo_bpm"] > 0 and 0 <= row["confidence"] <= 1


def test_status_shows_analysis_progress() -> None:
    from moodpi.cli.status import library_summary

    running = {"tracks": 5000, "analysed": 812, "failed": 3, "running": True, "eta_s": 860.0}
    assert library_summary(running) == "analysed 812 of 5,000 (3 undecodable; running, ETA 14m 20s)"
    assert library_summary({"tracks": 10, "analysed": 10, "failed": 0, "running": False}) == (
        "analysed 10 of 10"
    )
    assert library_summary({"tracks": "x"}) == "-"


@pytest.mark.slow
def test_the_daemon_s_music_stage_analyses_a_flat_library_in_a_child(tmp_path: Path) -> None:
    from moodpi import config as config_mod
    from moodpi.events import EventHub
    from moodpi.music.stage import Jukebox
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
