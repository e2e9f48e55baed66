"""The music library: scan, cache, playlists (real files, real mutagen, real SQLite cache)."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import pytest
from mutagen.id3 import TIT2, TPE1
from mutagen.wave import WAVE

from moodpi.music.library import library as music
from moodpi.music.library.db import FileMeta
from moodpi.music.library.library import Library
from musicgen import CATEGORIES, FLAT_STYLES, generate_flat_library, write_clip

CLIP_S = 1.0  # small_library's clips (tests/conftest.py)


@pytest.fixture
def library_copy(small_library: Path, tmp_path: Path) -> Path:
    root = tmp_path / "music"
    shutil.copytree(small_library, root)
    return root


@pytest.fixture
def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every file the library opens with mutagen."""
    opened: list[Path] = []
    real_probe = music.probe

    def probe(path: Path, mtime_ns: int, size: int) -> FileMeta:
        opened.append(path)
        return real_probe(path, mtime_ns, size)

    monkeypatch.setattr(music, "probe", probe)
    return opened


def test_scan_reads_durations_and_tags(library_copy: Path, tmp_path: Path) -> None:
    tagged = library_copy / "happy" / "happy_1.wav"
    audio = WAVE(tagged)
    audio.add_tags()
    audio.tags.add(TIT2(encoding=3, text="Morning Song"))
    audio.tags.add(TPE1(encoding=3, text="The Synths"))
    audio.save()
    (library_copy / "happy" / "cover.jpg").write_bytes(b"not music")  # ignored, not unreadable

    library = Library(library_copy, None, tmp_path / "cache.sqlite3")
    report = library.scan()

    assert report.tracks == 28 and report.unreadable == 0 and report.read == 28
    assert library.categories() == {c: 2 for c in sorted(CATEGORIES)}
    by_title = {t.title: t for t in library.tracks("happy")}
    assert by_title["Morning Song"].artist == "The Synths"
    assert by_title["happy_2"].artist == ""  # untagged: the file name
    assert all(t.duration_s == pytest.approx(CLIP_S, abs=0.01) for t in library.tracks("sad"))
    assert library.tracks("HAPPY") == library.tracks("happy")


def test_rescan_reads_only_changed_files(
    library_copy: Path, tmp_path: Path, count_reads: list[Path]
) -> None:
    cache = tmp_path / "cache.sqlite3"
    assert Library(library_copy, None, cache).scan().read == 28
    count_reads.clear()

    library = Library(library_copy, None, cache)  # a new process: only the cache remembers
    assert library.scan().read == 0 and count_reads == []

    changed = library_copy / "sad" / "sad_1.wav"
    write_clip(changed, "sad", seconds=2.5)
    (library_copy / "calming" / "calming_2.wav").unlink()
    report = library.scan()

    assert count_reads == [changed]
    assert (report.read, report.cached, report.removed) == (1, 26, 1)
    assert {t.path: t.duration_s for t in library.tracks("sad")}[changed] == pytest.approx(2.5)
    assert library.categories()["calming"] == 1


def test_unreadable_files_are_skipped_logged_once_and_counted(
    library_copy: Path, tmp_path: Path, count_reads: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    bad = {
        library_copy / "sad" / "noise.mp3": os.urandom(5000),
        library_copy / "sad" / "empty.wav": b"",
        library_copy / "fear" / "text.ogg": b"hello, not vorbis\n" * 20,
        library_copy / "fear" / "fake.flac": b"fLaC" + os.urandom(100),
    }
    for path, data in bad.items():
        path.write_bytes(data)
    library = Library(library_copy, None, tmp_path / "cache.sqlite3")

    with caplog.at_level(logging.WARNING, logger="moodpi.music.library.library"):
        report = library.scan()
    assert report.unreadable == 4 and report.tracks == 28
    for path in bad:
        assert sum(str(path) in r.getMessage() for r in caplog.records) == 1
    assert {t.path for t in library.tracks("sad")}.isdisjoint(bad)

    count_reads.clear()
    again = library.scan()  # unchanged bad files are remembered, not re-read
    assert again.unreadable == 4 and count_reads == []


def test_playlists(library_copy: Path, tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "calming.m3u").write_text(
        "#EXTM3U\n#EXTINF:10,Sad one\n../music/sad/sad_1.wav\n\n"
        f"{library_copy / 'calming' / 'calming_1.wav'}\n"
        f"file://{library_copy / 'ambient' / 'ambient_1.wav'}\n"
        "../music/sad/not_there.wav\nhttp://radio.example/stream\n",
        encoding="utf-8",
    )
    (lists / "Upbeat.m3u8").write_text("../music/upbeat/upbeat_2.wav\n", encoding="utf-8")
    (lists / "party.m3u").write_text("../music/happy/happy_1.wav\n", encoding="utf-8")
    (lists / "notes.txt").write_text("../music/sad/sad_2.wav\n")

    library = Library(library_copy, lists, tmp_path / "cache.sqlite3")  # playlists win
    report = library.scan()

    # A playlist named after a category is that category; "party" is no category: just music.
    assert library.categories() == {"calming": 3, "upbeat": 1}
    assert report.missing == 1 and report.tracks == 5
    assert [t.title for t in library.tracks("calming")] == ["sad_1", "calming_1", "ambient_1"]
    assert [t.title for t in library.tracks("")] == ["happy_1"]


def test_artist_folders_are_music_not_categories(tmp_path: Path) -> None:
    """`Artist/Album/NN Track` and loose files are uncategorised; only a folder named after a
    category the policies use (here the config's own "blues") is one."""
    root = tmp_path / "music"
    for folder in ("Adele/25", "Bach/Goldberg", "Blues", "sad/more"):
        (root / folder).mkdir(parents=True)
        write_clip(root / folder / "01 Track.wav", "calming", seconds=0.2)
    write_clip(root / "loose.wav", "calming", seconds=0.2)
    cache = tmp_path / "cache.sqlite3"

    library = Library(root, None, cache)
    report = library.scan()
    assert report.categories == {"sad": 1} and report.tracks == 5
    assert len(library.tracks("")) == 4  # Adele, Bach, Blues (no category by default), loose

    blues = Library(root, None, cache, category_names={"sad", "blues"})
    assert blues.load() == 5 and blues.categories() == {"blues": 1, "sad": 1}


def test_scan_stops_early_on_request(library_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    library = Library(library_copy, None, cache)
    library.scan()
    write_clip(library_copy / "sad" / "sad_1.wav", "sad", seconds=3.0)
    stop = threading.Event()
    stop.set()  # e.g. SIGTERM arrived
    report = library.scan(stop)
    assert not report.complete and report.read == 0 and report.removed == 0
    assert report.tracks == 28  # the cached library, not an empty one
    assert library.scan().read == 1  # the next full scan catches up


def test_load_gives_last_scan_without_touching_files(
    library_copy: Path, tmp_path: Path, count_reads: list[Path]
) -> None:
    cache = tmp_path / "cache.sqlite3"
    scanned = Library(library_copy, None, cache)
    scanned.scan()
    count_reads.clear()
    loaded = Library(library_copy, None, cache)
    assert loaded.load() == 28 and count_reads == []
    assert loaded.tracks("gentle") == scanned.tracks("gentle")


def test_corrupt_cache_is_rebuilt(library_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    cache.write_bytes(b"this is not a database" * 100)
    report = Library(library_copy, None, cache).scan()
    assert report.tracks == 28 and report.read == 28
    assert Library(library_copy, None, cache).scan().read == 0


def test_missing_root_is_an_empty_library(tmp_path: Path) -> None:
    library = Library(tmp_path / "nowhere", None, None)
    assert library.scan().tracks == 0 and library.categories() == {}


def test_flat_demo_library_has_no_category_folders(tmp_path: Path) -> None:
    paths = generate_flat_library(tmp_path, seconds=0.5)
    assert len(paths) == 2 * len(FLAT_STYLES) and all(p.parent == tmp_path for p in paths)
    library = Library(tmp_path)
    report = library.scan()
    assert report.tracks == len(paths) and library.categories() == {}
    assert len(library.all_tracks()) == len(paths)


def test_a_non_utf8_file_name_does_not_silence_the_library(tmp_path: Path) -> None:
    """Issue 18, defect 2: `caf\\xe9.wav` made the cache save fail and the daemon play nothing."""
    root = tmp_path / "music"
    write_clip(root / "happy" / "ok.wav", "happy", seconds=0.3)
    bad = os.fsdecode(os.fsencode(root / "happy") + b"/caf\xe9.wav")
    write_clip(Path(bad), "happy", seconds=0.3)
    cache = tmp_path / "state" / "library.sqlite3"
    report = Library(root, cache_path=cache).scan()
    assert report.tracks == 2 and report.unreadable == 0
    again = Library(root, cache_path=cache)
    assert again.load() == 2  # the save worked: the cache holds both
    assert Path(bad) in {t.path for t in again.tracks("happy")}
    assert again.scan().read == 0  # and knows them as unchanged


def test_a_disk_not_mounted_plays_nothing_and_keeps_the_analysis(tmp_path: Path) -> None:
    """The folder gone (an unmounted disk) serves nothing and says why; the cache and its
    analysis are kept, so the disk mounted again is played at once, nothing re-read."""
    from moodpi.music.analysis import analyser
    from moodpi.music.library.health import library_problem

    root, cache = tmp_path / "disk" / "music", tmp_path / "cache.sqlite3"
    for n in range(4):
        write_clip(root / f"0{n} Song.wav", "calming", seconds=0.5, variant=n)
    library = Library(root, None, cache)
    assert library_problem(library, library.scan().tracks) is None
    assert analyser.run(cache).analysed == 4

    (tmp_path / "disk").rename(tmp_path / "elsewhere")
    gone = library.scan()
    assert (gone.tracks, gone.placed, gone.removed) == (0, 0, 0)
    assert library.all_tracks() == [] and Library(root, None, cache).load() == 0
    assert library_problem(library, gone.tracks) == (
        f"music.root {root} does not exist (a disk not mounted?): no music"
    )

    (tmp_path / "elsewhere").rename(tmp_path / "disk")
    back = library.scan()
    assert (back.tracks, back.placed, back.read) == (4, 4, 0)

    for path in root.iterdir():
        path.unlink()
    assert library_problem(library, library.scan().tracks) == (
        f"music.root {root} holds no playable music"
    )
    root.rmdir()
    root.write_bytes(b"")
    assert library_problem(library, library.scan().tracks) == (
        f"music.root {root} is not a folder: no music"
    )
