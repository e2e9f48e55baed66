"""A library in every format the library takes, encoded by PyAV in the test: it scans, analyses
(with its loudness) and plays for real through SDL's disk driver, each file heard as its own
tone at the levelled loudness; a corrupt file and a protected one are named, and the rest plays.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from moodpi.events import PlayerEvent, TrackEnded, TrackSkipped
from moodpi.music.analysis import analyser
from moodpi.music.analysis.loudness import integrated_loudness
from moodpi.music.library import db
from moodpi.music.library.library import Library
from moodpi.music.player import PygamePlayer
from moodpi.music.track import Levelling, Track
from tests.support.audio_files import ENCODINGS, write_tone

# Each format its own tone, so the rendered audio says which file was heard.
TONES = {suffix: 500.0 + 100.0 * i for i, suffix in enumerate(ENCODINGS)}
ALAC_HZ = 400.0
LEVEL_DBFS = -12.0  # a stereo sine: -12 LUFS
TARGET_LUFS = -20.0
RATE_HZ = 44100


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formats")
    for suffix, hz in TONES.items():
        write_tone(root / "Artist" / f"tone{suffix}", hz, level_dbfs=LEVEL_DBFS)
    write_tone(root / "Artist" / "lossless.m4a", ALAC_HZ, codec="alac", level_dbfs=LEVEL_DBFS)
    (root / "Artist" / "broken.m4a").write_bytes(np.random.default_rng(0).bytes(4000))
    (root / "Artist" / "bought.m4p").write_bytes((root / "Artist" / "tone.m4a").read_bytes())
    (root / "Artist" / "cover.jpg").write_bytes(b"\xff\xd8 not music")
    return root


@pytest.fixture(scope="module")
def analysed(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Library:
    music = Library(library, None, tmp_path_factory.mktemp("state") / "library.sqlite3")
    music.scan()
    assert music.cache_path is not None
    report = analyser.run(music.cache_path)
    assert (report.analysed, report.failed) == (len(TONES) + 1, 0)
    music.load()
    return music


def test_every_format_is_listed_and_the_bad_ones_are_named_by_format(library: Path):
    report = Library(library).scan()
    assert report.tracks == len(TONES) + 1  # every format, and ALAC in .m4a
    assert report.unreadable_formats == {"m4a": 1, "m4p": 1}
    assert report.unreadable_files == {
        str(library / "Artist" / "broken.m4a"): "not a recognised audio stream",
        str(library / "Artist" / "bought.m4p"): "DRM-protected iTunes purchase: cannot be decoded",
    }
    assert "cover.jpg" not in str(report.as_dict())  # not music: not listed at all


def test_every_format_is_analysed_with_its_loudness(analysed: Library):
    tracks = {t.path.name: t for t in analysed.all_tracks()}
    assert set(tracks) == {f"tone{s}" for s in TONES} | {"lossless.m4a"}
    for name, track in tracks.items():
        assert track.placed, name
        assert track.loudness_from == "measured"
        assert track.loudness_lufs == pytest.approx(LEVEL_DBFS, abs=1.0), name
    assert analysed.cache_path is not None
    with db.connect(analysed.cache_path) as cache:
        bad = db.unreadable(cache)
    assert {fmt: [Path(p).name for p, _ in paths] for fmt, paths in bad.items()} == {
        "m4a": ["broken.m4a"], "m4p": ["bought.m4p"],
    }  # fmt: skip
    coverage = db.coverage(analysed.cache_path)
    assert coverage is not None and coverage.unreadable == {"m4a": 1, "m4p": 1}
    assert coverage.unreadable_files["m4p"] == [str(Path(bad["m4p"][0][0]))]


class Heard:
    """The player's events, and a wait for the end (or skip) of each track."""

    def __init__(self) -> None:
        self.events: list[PlayerEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: PlayerEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_done(self, path: Path) -> PlayerEvent:
        def done() -> PlayerEvent | None:
            return next((e for e in self.events if isinstance(e, TrackEnded | TrackSkipped)
                         and e.track.path == str(path)), None)  # fmt: skip

        with self._cond:
            found = self._cond.wait_for(done, timeout=15.0)
        assert found is not None, f"{path.name} neither ended nor was skipped: {self.events}"
        return found


def segments(raw: Path) -> list[np.ndarray]:
    """The audible stretches of the rendered audio, (n, 2) floats, split at 10 ms of silence."""
    audio = np.fromfile(raw, dtype="<i2").reshape(-1, 2).astype(np.float64) / 32768
    frames = audio[: len(audio) // 441 * 441].reshape(-1, 441, 2)
    loud = np.abs(frames).max(axis=(1, 2)) > 1e-3
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    return [audio[a * 441 : b * 441] for a, b in zip(edges[::2], edges[1::2], strict=True)]


def test_every_format_plays_levelled_and_a_corrupt_file_is_skipped(
    analysed: Library, library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    raw = tmp_path / "audio.raw"
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(raw))
    monkeypatch.setenv("SDL_DISKAUDIODELAY", "2")
    tracks = sorted(analysed.all_tracks(), key=lambda t: t.path.name)
    # A file that broke after the scan (it read well then) is skipped when it is to play.
    broken = Track(library / "Artist" / "broken.m4a", "", 1.5, "broken")
    order = [*tracks[:2], broken, *tracks[2:]]
    heard = Heard()
    player = PygamePlayer(heard, volume=1.0, buffer_frames=1024, levelling=Levelling(TARGET_LUFS))
    player.start()
    try:
        assert player.audio, "the disk driver should open"
        outcomes = {}
        for track in order:
            player.play(track)
            outcomes[track.path.name] = heard.wait_done(track.path)
            time.sleep(0.05)  # a gap of silence between two tracks
    finally:
        player.stop()
    skipped = outcomes.pop("broken.m4a")
    assert isinstance(skipped, TrackSkipped) and skipped.reason.startswith("cannot play")
    assert all(isinstance(e, TrackEnded) and e.reason == "finished" for e in outcomes.values())

    expected = [ALAC_HZ if t.path.name == "lossless.m4a" else TONES[t.path.suffix] for t in tracks]
    heard_segments = [s for s in segments(raw) if len(s) > RATE_HZ // 2]
    assert len(heard_segments) == len(tracks)
    for segment, hz, track in zip(heard_segments, expected, tracks, strict=True):
        spectrum = np.abs(np.fft.rfft(segment[:, 0] * np.hanning(len(segment))))
        assert np.argmax(spectrum) * RATE_HZ / len(segment) == pytest.approx(hz, abs=5), track
        assert len(segment) / RATE_HZ == pytest.approx(1.5, abs=0.1), track
        # -12 LUFS played 8 dB down to the target, within the codecs' and the mixer's steps
        assert integrated_loudness(segment, RATE_HZ) == pytest.approx(TARGET_LUFS, abs=0.5)
