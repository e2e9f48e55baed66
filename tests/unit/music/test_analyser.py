"""The analyser and its cache: once per file, resumable, one at a time, killed and resumed
(real soundfile, real SQLite, real files and processes; no fakes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moodpi.music.analysis import analyser
from moodpi.music.library import db as library_db
from moodpi.music.library.library import Library
from musicgen import write_clip


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
    child = subprocess.Popen([sys.executable, "-m", "moodpi.music.analysis.analyser", "--cache",
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
