"""Loudness levelling: ReplayGain tags as each container writes them, the measured loudness
otherwise, and the gain a track plays at (attenuation only); the cache keeps what it knew when
it gains the columns for them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mutagen
import pytest
from mutagen.id3 import TXXX

from moodpi.music.library import db
from moodpi.music.library.library import Library
from moodpi.music.library.probe import probe
from moodpi.music.track import UNMEASURED_LUFS, Levelling, Track
from tests.support.audio_files import write_tone


def _track(loudness: float | None) -> Track:
    return Track(Path("x.flac"), "", 10.0, "x", loudness_lufs=loudness)


@pytest.mark.parametrize(
    ("loudness", "target", "gain_db"),
    [
        (-8.0, -20.0, -12.0),  # a loud master plays 12 dB down
        (-20.0, -20.0, 0.0),
        (-26.0, -20.0, 0.0),  # quieter than the target: as it is (no boost: volume <= 1)
        (-70.0, -20.0, 0.0),  # silence
        (None, -20.0, -20.0 - UNMEASURED_LUFS),  # not measured yet: as typical music
        (-8.0, -14.0, -6.0),
    ],
)
def test_gain_attenuates_towards_the_target(loudness, target, gain_db):
    levelling = Levelling(target)
    assert levelling.gain_db(_track(loudness)) == pytest.approx(gain_db)
    assert levelling.gain(_track(loudness)) == pytest.approx(10 ** (gain_db / 20))
    assert 0.0 < levelling.gain(_track(loudness)) <= 1.0


def test_levelling_off_plays_every_track_as_it_is():
    off = Levelling(-20.0, enabled=False)
    assert off.gain(_track(-5.0)) == off.gain(_track(None)) == 1.0


def _tag(path: Path, key: str, value: str) -> Path:
    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    if key.startswith("TXXX:"):
        audio.tags.add(TXXX(encoding=3, desc=key[5:], text=[value]))
    elif key.startswith("----:"):
        audio.tags[key] = [value.encode()]
    else:
        audio.tags[key] = [value]
    audio.save()
    return path


@pytest.mark.parametrize(
    ("name", "key", "value", "lufs"),
    [
        ("a.mp3", "TXXX:REPLAYGAIN_TRACK_GAIN", "-7.50 dB", -10.5),  # foobar2000, Picard
        ("b.mp3", "TXXX:replaygain_track_gain", "+2.00 dB", -20.0),  # loudgain, beets
        ("c.flac", "REPLAYGAIN_TRACK_GAIN", "-3.25 dB", -14.75),
        ("d.m4a", "----:com.apple.iTunes:replaygain_track_gain", "-6.00 dB", -12.0),
        ("e.opus", "R128_TRACK_GAIN", "-1280", -18.0),  # Q7.8: -5 dB to -23 LUFS
        ("f.opus", "REPLAYGAIN_TRACK_GAIN", "-4 dB", -14.0),
        ("g.wv", "REPLAYGAIN_TRACK_GAIN", "-1,5 dB", -16.5),  # APEv2, a decimal comma
        ("h.wma", "replaygain_track_gain", "-2.00 dB", -16.0),
        ("i.flac", "REPLAYGAIN_TRACK_GAIN", "loud", None),  # not a number: no tag
        ("j.flac", "REPLAYGAIN_TRACK_GAIN", "-99 dB", None),  # beyond reason: no tag
    ],
)
def test_replaygain_tags_of_every_container_give_the_loudness(tmp_path, name, key, value, lufs):
    path = _tag(write_tone(tmp_path / name, 440.0, seconds=0.5), key, value)
    stat = path.stat()
    meta = probe(path, stat.st_mtime_ns, stat.st_size)
    assert meta.error == ""
    assert meta.tag_lufs == (pytest.approx(lufs) if lufs is not None else None)


def test_tag_wins_over_the_measure_and_titles_read_raw(tmp_path: Path):
    tagged = _tag(write_tone(tmp_path / "tagged.m4a", 440.0, seconds=0.5),
                  "----:com.apple.iTunes:replaygain_track_gain", "-6.00 dB")  # fmt: skip
    audio = mutagen.File(tagged)
    audio.tags["©nam"], audio.tags["©ART"] = ["Song"], ["Singer"]
    audio.save()
    library = Library(tmp_path, None, tmp_path / "state" / "library.sqlite3")
    library.scan()
    (track,) = library.all_tracks()
    assert (track.title, track.artist) == ("Song", "Singer")
    assert (track.loudness_lufs, track.loudness_from) == (-12.0, "tag")


def test_a_version_2_cache_keeps_its_rows_and_reads_every_file_again(tmp_path: Path):
    cache = tmp_path / "library.sqlite3"
    old = sqlite3.connect(cache)
    old.executescript(
        "CREATE TABLE files (path BLOB PRIMARY KEY, mtime_ns INTEGER, size INTEGER,"
        " duration_s REAL, title TEXT, artist TEXT, error TEXT);"
        "CREATE TABLE entries (category TEXT, path BLOB);"
        "CREATE TABLE analysis (path BLOB PRIMARY KEY, mtime_ns INTEGER, size INTEGER,"
        " valence REAL, arousal REAL, tempo_bpm REAL, loudness_db REAL, key TEXT, mode TEXT,"
        " confidence REAL, evidence TEXT, model TEXT, error TEXT, analysed_at REAL);"
        "CREATE TABLE progress (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER,"
        " started_at REAL, updated_at REAL, total INTEGER, done INTEGER, failed INTEGER,"
        " finished INTEGER);"
        "INSERT INTO files VALUES (X'612E666C6163', 5, 9, 10.0, 'a', '', '');"
        "INSERT INTO entries VALUES ('', X'612E666C6163');"
        "INSERT INTO analysis VALUES (X'612E666C6163', 5, 9, 0.5, 0.5, 120, -14, 'C', 'major',"
        " 0.8, 'audio', 'm1', '', 1.0);"
        "PRAGMA user_version = 2;"
    )
    old.close()
    with db.connect(cache) as cache_db:
        assert cache_db.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
        files = db.read_files(cache_db)
        analysis = db.read_analysis(cache_db)
        pending = db.pending(cache_db, "m1")
    # The file is kept but counts as changed (its tags are read again at the next scan) ...
    assert files["a.flac"].mtime_ns == -1 and files["a.flac"].tag_lufs is None
    # ... and its placement is kept, to be analysed again for the loudness it lacks.
    assert analysis["a.flac"].valence == 0.5 and analysis["a.flac"].loudness_lufs is None
    assert [path for path, _ in pending] == ["a.flac"]
