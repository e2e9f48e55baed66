"""Music library (real files, real mutagen, real SQLite cache), demo generator and policies."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import shutil
import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutagen.id3 import TIT2, TPE1
from mutagen.wave import WAVE

from moodpi import config as config_mod
from moodpi.cli.library import cli_library
from moodpi.music import library as music
from moodpi.music.library import Library, Track
from moodpi.music.policy import TrackPicker, iso_plan, plan
from moodpi.types import EMOTIONS, as_policy
from musicgen import CATEGORIES, STYLES, generate_library, write_clip

CLIP_S = 1.0


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("music")
    generate_library(root, seconds=CLIP_S, seed=1)
    return root


@pytest.fixture
def library_copy(small_library: Path, tmp_path: Path) -> Path:
    root = tmp_path / "music"
    shutil.copytree(small_library, root)
    return root


@pytest.fixture
def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every file the library opens with mutagen."""
    opened: list[Path] = []
    real_probe = music._probe

    def probe(path: Path, mtime_ns: int, size: int) -> music._Meta:
        opened.append(path)
        return real_probe(path, mtime_ns, size)

    monkeypatch.setattr(music, "_probe", probe)
    return opened


# -- the demo generator ------------------------------------------------------------------------


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0, w.getframerate()


def test_generator_covers_every_mapped_category(small_library: Path) -> None:
    needed = set(config_mod.MIRROR_MAP.values()) | set(config_mod.UPLIFT_MAP.values())
    assert needed <= set(CATEGORIES)
    for category in needed:
        clips = sorted((small_library / category).glob("*.wav"))
        assert len(clips) == 2
        samples, rate_hz = _read_wav(clips[0])
        assert len(samples) == pytest.approx(CLIP_S * rate_hz, abs=1)
        assert 0.02 < float(np.sqrt(np.mean(samples**2))) < 0.8  # audible, not clipped flat
        assert not np.array_equal(samples, _read_wav(clips[1])[0])  # two different clips


def test_generator_is_idempotent(small_library: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in small_library.rglob("*.wav")}
    again = generate_library(small_library, seconds=CLIP_S, seed=1)
    assert {p for paths in again.values() for p in paths} == set(before)
    assert {p: p.stat().st_mtime_ns for p in small_library.rglob("*.wav")} == before


def test_generator_styles_sound_like_their_names(tmp_path: Path) -> None:
    def measure(category: str) -> tuple[float, float]:
        """(spectral centroid in Hz, mean frame-to-frame change of loudness / mean loudness)."""
        clip = write_clip(tmp_path / f"{category}.wav", category, seconds=4.0)
        samples, rate_hz = _read_wav(clip)
        spectrum = np.abs(np.fft.rfft(samples))
        freqs_hz = np.fft.rfftfreq(len(samples), 1 / rate_hz)
        centroid_hz = float((spectrum * freqs_hz).sum() / spectrum.sum())
        frame = rate_hz // 50
        frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
        loudness = np.sqrt(np.mean(frames**2, axis=1))
        return centroid_hz, float(np.abs(np.diff(loudness)).mean() / loudness.mean())

    bright = [measure(c) for c in ("happy", "upbeat", "exciting")]
    calm = [measure(c) for c in ("calming", "sad", "relaxing")]
    assert min(STYLES[c].bpm for c in ("happy", "upbeat", "exciting")) >= 120
    assert max(STYLES[c].bpm for c in ("calming", "sad")) <= 60
    assert min(c for c, _ in bright) > 2 * max(c for c, _ in calm)  # bright timbre, higher notes
    assert min(f for _, f in bright) > 3 * measure("calming")[1]  # many note onsets vs a smooth pad


# -- scanning ----------------------------------------------------------------------------------


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

    with caplog.at_level(logging.WARNING, logger="moodpi.music.library"):
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
    (lists / "evening.m3u").write_text(
        "#EXTM3U\n#EXTINF:10,Sad one\n../music/sad/sad_1.wav\n\n"
        f"{library_copy / 'calming' / 'calming_1.wav'}\n"
        f"file://{library_copy / 'ambient' / 'ambient_1.wav'}\n"
        "../music/sad/not_there.wav\nhttp://radio.example/stream\n",
        encoding="utf-8",
    )
    (lists / "Party.m3u8").write_text("../music/upbeat/upbeat_2.wav\n", encoding="utf-8")
    (lists / "notes.txt").write_text("../music/sad/sad_2.wav\n")

    library = Library(library_copy, lists, tmp_path / "cache.sqlite3")  # playlists win
    report = library.scan()

    assert library.categories() == {"evening": 3, "party": 1}
    assert report.missing == 1
    assert [t.title for t in library.tracks("evening")] == ["sad_1", "calming_1", "ambient_1"]


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


def test_cli_scan_and_show(
    library_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (library_copy / "upbeat").rename(library_copy / ".hidden")  # an uplift category goes missing
    cfg = tmp_path / "moodpi.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "music"\n')
    args = argparse.Namespace(action="scan", json=True, config=str(cfg), no_analysis=True)

    assert cli_library(args) == 0
    scan = json.loads(capsys.readouterr().out)
    assert scan["tracks"] == 26 and scan["read"] == 26 and scan["analysis"] is None
    assert (tmp_path / "state" / "library.sqlite3").is_file()

    assert cli_library(argparse.Namespace(action="show", json=True, config=str(cfg))) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 26 and sum(r["category"] == "sad" for r in rows) == 2
    assert all(r["valence"] is None and r["mode"] is None for r in rows)  # not analysed

    assert cli_library(argparse.Namespace(action="show", json=False, config=str(cfg))) == 0
    text = capsys.readouterr().out
    assert "26 tracks, 0 placed" in text and "[sad]" in text
    assert "upbeat" in text.splitlines()[-1]


# -- policies ----------------------------------------------------------------------------------


MUSIC = config_mod.Config().music


def test_mirror_and_uplift_maps() -> None:
    uplift = {
        "sad": "calming", "angry": "relaxing", "fear": "comforting", "disgust": "gentle",
        "surprise": "exciting", "happy": "upbeat", "neutral": "ambient",
    }  # fmt: skip
    for emotion in EMOTIONS:
        assert plan("mirror", emotion, MUSIC) == (emotion,)
        assert plan("uplift", emotion, MUSIC) == (uplift[emotion],)


def test_maps_come_from_config() -> None:
    maps = {"mirror_map": {"sad": "blues"}, "uplift_map": {"sad": "sunshine"}, "iso_steps": 1}
    custom = config_mod.from_dict({"music": maps}).music
    assert plan("mirror", "sad", custom) == ("blues",)
    assert plan("iso", "sad", custom) == ("blues", "sunshine")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (1, "MT"),
        (2, "MMT"),
        (3, "MMTT"),
        (4, "MMMTT"),
        (5, "MMMTTT"),
    ],
)
def test_iso_plan_steps(steps: int, expected: str) -> None:
    assert "".join(c[0] for c in iso_plan("M", "T", steps)) == expected


def test_iso_starts_with_the_mood_and_ends_at_the_target() -> None:
    for emotion in EMOTIONS:
        steps = plan("iso", emotion, MUSIC)
        assert steps[0] == MUSIC.mirror_map[emotion]
        assert steps[-1] == MUSIC.uplift_map[emotion]
        assert len(steps) == MUSIC.iso_steps + 1


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match=r"unknown policy 'random' \(one of mirror, uplift, iso\)"):
        as_policy("random")


# -- picking tracks ----------------------------------------------------------------------------


def _tracks(category: str, n: int) -> list[Track]:
    return [Track(Path(f"/m/{category}/{i}.ogg"), category, 60.0, f"{i}") for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 9), rounds=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_no_repeat_until_category_exhausted(n: int, rounds: int, seed: int) -> None:
    library = Library.from_tracks(_tracks("sad", n) + _tracks("happy", 3))
    picker = TrackPicker(library, random.Random(seed))
    picks = [picker.pick("sad") for _ in range(n * rounds)]
    for r in range(rounds):
        bag = picks[r * n : (r + 1) * n]
        assert len({t.path for t in bag}) == n  # every track once per round
    assert all(a != b for a, b in itertools.pairwise(picks)) or n == 1
    assert all(t.category == "sad" for t in picks)


def test_picks_are_reproducible_with_a_seed() -> None:
    library = Library.from_tracks(_tracks("sad", 6))
    a, b = TrackPicker(library, random.Random(7)), TrackPicker(library, random.Random(7))
    picks = [a.pick("sad") for _ in range(12)]
    assert picks == [b.pick("sad") for _ in range(12)]
    other = TrackPicker(library, random.Random(8))
    assert picks != [other.pick("sad") for _ in range(12)]


def test_empty_category_falls_back_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    library = Library.from_tracks(_tracks("neutral", 2) + _tracks("happy", 5))
    picker = TrackPicker(library, random.Random(0))
    with caplog.at_level(logging.WARNING, logger="moodpi.music.policy"):
        picks = [picker.pick("calming") for _ in range(4)]
    assert {t.category for t in picks} == {"neutral"}  # ambient is empty too; neutral next
    assert len([r for r in caplog.records if "calming" in r.getMessage()]) == 1

    only_happy = TrackPicker(Library.from_tracks(_tracks("happy", 5)), random.Random(0))
    assert only_happy.pick("sad").category == "happy"  # else the largest category
    caplog.clear()
    nothing = TrackPicker(Library.from_tracks([]), random.Random(0))
    with caplog.at_level(logging.WARNING, logger="moodpi.music.policy"):
        assert [nothing.pick(e) for e in EMOTIONS] == [None] * len(EMOTIONS)
    assert len(caplog.records) == 1  # an empty library is said once, not once per category


def test_excluded_tracks_are_never_picked_again() -> None:
    tracks = _tracks("sad", 3)
    picker = TrackPicker(Library.from_tracks(tracks + _tracks("ambient", 1)), random.Random(1))
    picker.exclude(tracks[0].path)
    assert tracks[0] not in [picker.pick("sad") for _ in range(10)]
    picker.exclude(tracks[1].path)
    picker.exclude(str(tracks[2].path))
    assert picker.pick("sad").category == "ambient"
