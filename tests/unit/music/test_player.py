"""The pygame player on real audio: SDL's disk driver renders the mix to a raw file we read back.

The mixer is opened at 44.1 kHz, signed 16-bit, stereo (allowedchanges=0, so that is exactly the
file's layout). SDL_DISKAUDIODELAY=2 (ms per 1024-frame buffer of 23 ms) renders about ten times
faster than real time: a 10 s clip takes about one second, yet commands still land mid-track.
Every wait is bounded.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moodpi import config as config_mod
from moodpi.events import PlayerEvent, payload_fields
from moodpi.music.actions import apply
from moodpi.music.director import MusicDirector
from moodpi.music.library.library import Library
from moodpi.music.player import PygamePlayer, make_player
from moodpi.music.track import Track
from moodpi.types import MoodChange
from musicgen import write_clip

RATE_HZ = 44100
BYTES_PER_S = RATE_HZ * 2 * 2  # stereo, 16-bit
MARGIN_BYTES = BYTES_PER_S // 10 // 4 * 4  # SDL's buffer and stdio buffering lag behind a command
WAIT_S = 10.0


class Events:
    """Collects the player's events (from its thread) and waits for one, with a timeout."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []  # as plain data, to match on fields
        self.typed: list[PlayerEvent] = []  # as the player sent them
        self._cond = threading.Condition()

    def __call__(self, event: PlayerEvent) -> None:
        with self._cond:
            self.typed.append(event)
            self.items.append(payload_fields(event))
            self._cond.notify_all()

    def wait(self, type_: str, **fields: Any) -> dict[str, Any]:
        def match() -> dict[str, Any] | None:
            for e in self.items:
                if e["type"] == type_ and all(e.get(k) == v for k, v in fields.items()):
                    return e
            return None

        with self._cond:
            found = self._cond.wait_for(match, timeout=WAIT_S)
            assert found, f"no {type_} {fields} in {self.items}"
            return found

    def types(self) -> list[tuple[str, str]]:
        return [(e["type"], Path(e.get("path", "")).name) for e in self.items]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "long": write_clip(root / "calming" / "long.wav", "calming", seconds=10.0),
        "long2": write_clip(root / "calming" / "long2.wav", "calming", seconds=10.0, variant=1),
        "short": write_clip(root / "upbeat" / "short.wav", "upbeat", seconds=2.0),
        "short2": write_clip(root / "upbeat" / "short2.wav", "upbeat", seconds=2.0, variant=1),
    }


@pytest.fixture
def disk_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "audio.raw"
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(out))
    monkeypatch.setenv("SDL_DISKAUDIODELAY", "2")
    return out


@pytest.fixture
def player(disk_audio: Path) -> Iterator[tuple[PygamePlayer, Events]]:
    events = Events()
    p = PygamePlayer(events, volume=1.0, buffer_frames=1024)
    p.start()
    assert p.audio, "the disk driver should open"
    yield p, events
    p.stop()


def track(path: Path, category: str = "calming", duration_s: float = 10.0) -> Track:
    return Track(path, category, duration_s, path.stem)


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def wait_audio(path: Path, seconds: float) -> int:
    """Let the device render `seconds` more audio; returns the file size before."""
    start = size(path)
    wait_until(lambda: size(path) >= start + int(seconds * BYTES_PER_S), f"{seconds} s of audio")
    return start


def rms(path: Path, start: int, end: int | None = None) -> float:
    start -= start % 4
    data = np.fromfile(path, dtype="<i2", offset=start)
    if end is not None:
        data = data[: (end - start) // 2]
    assert data.size > 1000, "too little audio to judge"
    return float(np.sqrt(np.mean(data.astype(np.float64) ** 2)))


def audible_s(path: Path) -> float:
    """Seconds of the file, in 10 ms frames, that hold any sound at all."""
    frames = np.fromfile(path, dtype="<i2")
    frames = frames[: frames.size // 882 * 882].reshape(-1, 882)
    return float(np.count_nonzero(np.abs(frames).max(axis=1))) / 100


SILENT = 1.0  # RMS in 16-bit units: digital silence is exactly 0
AUDIBLE = 1000.0  # the clips peak at 70 % of full scale


def test_plays_then_silent_after_fade_out(player: tuple[PygamePlayer, Events], clips, disk_audio):
    p, events = player
    p.play(track(clips["long"]), fade_in_ms=0)
    events.wait("track_started", path=str(clips["long"]))
    begin = wait_audio(disk_audio, 1.0)
    assert rms(disk_audio, begin, begin + BYTES_PER_S) > AUDIBLE
    assert p.state == "playing" and p.now_playing == track(clips["long"])

    p.fade_out(300)
    ended = events.wait("track_ended", path=str(clips["long"]))
    assert ended["reason"] == "faded" and ended["audio"] is True
    assert ended["played_s"] < 6.0  # the fade ended it, not the end of the 10 s clip
    after = wait_audio(disk_audio, 0.6)
    assert rms(disk_audio, after + MARGIN_BYTES) < SILENT
    assert p.state == "stopped" and p.now_playing is None


def test_natural_end_is_reported_and_followed_by_silence(player, clips, disk_audio):
    p, events = player
    p.play(track(clips["short"], "upbeat", 2.0))
    started = events.wait("track_started", path=str(clips["short"]))
    assert started["category"] == "upbeat" and started["title"] == "short"
    begin = size(disk_audio)
    ended = events.wait("track_ended", path=str(clips["short"]))
    assert ended["reason"] == "finished"
    assert ended["played_s"] > 1.0  # the mixer's count of audio time
    assert rms(disk_audio, begin, size(disk_audio)) > AUDIBLE / 2
    after = wait_audio(disk_audio, 0.5)
    assert rms(disk_audio, after + MARGIN_BYTES) < SILENT


def test_pause_silences_and_resume_goes_on(player, clips, disk_audio):
    p, events = player
    p.play(track(clips["long"]))
    events.wait("track_started")
    wait_audio(disk_audio, 0.5)
    p.pause(fade_ms=100)
    wait_until(lambda: p.state == "paused", "paused")
    paused_at = wait_audio(disk_audio, 1.0)
    assert rms(disk_audio, paused_at + MARGIN_BYTES) < SILENT
    assert p.now_playing is not None  # paused, not stopped: nothing ended
    assert not any(e["type"] == "track_ended" for e in events.items)

    p.resume(fade_ms=0)
    wait_until(lambda: p.state == "playing", "playing")
    resumed_at = wait_audio(disk_audio, 0.5)
    assert rms(disk_audio, resumed_at + MARGIN_BYTES) > AUDIBLE
    assert events.wait("track_ended")["reason"] == "finished"
    # Paused, not muted: the whole 10 s clip was heard, the pause added silence, not a gap.
    assert 9.5 < audible_s(disk_audio) < 10.5


def test_volume_zero_is_silent(player, clips, disk_audio):
    p, events = player
    p.play(track(clips["long"]))
    events.wait("track_started")
    begin = wait_audio(disk_audio, 0.3)
    assert rms(disk_audio, begin) > AUDIBLE
    p.set_volume(0.0)
    half_s = BYTES_PER_S // 2 // 4 * 4

    def quiet_tail() -> bool:
        end = size(disk_audio)
        return end - half_s > begin and rms(disk_audio, end - half_s, end) < SILENT

    wait_until(quiet_tail, "half a second of silence")
    assert p.state == "playing" and not any(e["type"] == "track_ended" for e in events.items)


def test_crossfade_is_fade_out_then_fade_in(player, clips, disk_audio):
    p, events = player
    p.play(track(clips["long"]))
    events.wait("track_started", path=str(clips["long"]))
    p.play(track(clips["long2"]), fade_in_ms=300, crossfade_ms=300)
    events.wait("track_started", path=str(clips["long2"]))
    assert events.types()[:3] == [
        ("track_started", "long.wav"),
        ("track_ended", "long.wav"),
        ("track_started", "long2.wav"),
    ]
    assert events.items[1]["reason"] == "replaced"
    begin = wait_audio(disk_audio, 0.6)
    assert rms(disk_audio, begin) > AUDIBLE


def test_bad_files_are_skipped_and_reported(player, clips, disk_audio, tmp_path: Path):
    p, events = player
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(random.Random(0).randbytes(20000))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.ogg"
    text.write_text("not vorbis\n" * 100)
    for bad in (corrupt, empty, text, tmp_path / "never_existed.flac"):
        p.play(track(bad))
    p.play(track(clips["short"], "upbeat", 2.0))  # and playback goes on

    events.wait("track_started", path=str(clips["short"]))
    skips = [e for e in events.items if e["type"] == "track_skipped"]
    skipped = {Path(e["path"]).name: e["reason"] for e in skips}
    assert skipped.keys() == {"corrupt.mp3", "empty.wav", "notes.ogg", "never_existed.flac"}
    assert skipped["empty.wav"] == "empty file"
    assert skipped["never_existed.flac"] == "missing file"
    assert skipped["corrupt.mp3"].startswith("cannot play")
    assert all(e["category"] == "calming" for e in skips)
    begin = wait_audio(disk_audio, 0.5)
    assert rms(disk_audio, begin) > AUDIBLE / 2


def test_file_deleted_while_queued_is_skipped(player, clips, disk_audio, tmp_path: Path):
    p, events = player
    doomed = tmp_path / "doomed.wav"
    doomed.write_bytes(clips["long2"].read_bytes())
    p.play(track(clips["long"]))
    events.wait("track_started", path=str(clips["long"]))
    # Queued behind a fade-out that outlasts the track (about 0.8 s of wall time here).
    p.play(track(doomed), fade_in_ms=0, crossfade_ms=30000)
    wait_until(lambda: p.state == "switching", "switching")
    doomed.unlink()
    skipped = events.wait("track_skipped", path=str(doomed))
    assert skipped["reason"] == "missing file"
    assert p.state == "stopped"
    p.play(track(clips["short"], "upbeat", 2.0))
    events.wait("track_started", path=str(clips["short"]))


def test_skip_reports_and_stops(player, clips, disk_audio):
    p, events = player
    p.play(track(clips["long"]))
    events.wait("track_started")
    p.skip()
    assert events.wait("track_skipped")["reason"] == "user"
    after = wait_audio(disk_audio, 0.5)
    assert rms(disk_audio, after + MARGIN_BYTES) < SILENT
    assert not any(e["type"] == "track_ended" for e in events.items)


def test_stop_fades_and_returns(disk_audio, clips):
    events = Events()
    p = PygamePlayer(events, buffer_frames=1024)
    p.start()
    p.play(track(clips["long"]))
    events.wait("track_started")
    started = time.monotonic()
    p.stop(fade_ms=300)
    assert time.monotonic() - started < 3.0
    assert events.wait("track_ended")["reason"] == "stopped"
    p.stop()  # twice is harmless


def test_director_drives_the_player(player, clips, disk_audio):
    """The wiring the daemon does: director actions to the player, player events back."""
    p, events = player
    library = Library(clips["short"].parents[1])
    library.scan()
    music = config_mod.from_dict({"music": {"fade_ms": 200, "mirror_map": {"happy": "upbeat"}}})
    director = MusicDirector(music.music, library, rng=random.Random(0))
    apply(p, director.on_mood(MoodChange("happy", 0.9, 0.0), 0.0))
    assert events.wait("track_started")["category"] == "upbeat"

    handled = 0
    deadline = time.monotonic() + WAIT_S
    while len([e for e in events.items if e["type"] == "track_started"]) < 3:
        assert time.monotonic() < deadline, events.items
        for event in events.typed[handled:]:
            apply(p, director.on_player_event(event, time.monotonic()))
        handled = len(events.items)
        time.sleep(0.01)
    started = [e for e in events.items if e["type"] == "track_started"]
    assert {e["category"] for e in started} == {"upbeat"}
    assert started[0]["path"] != started[1]["path"]  # no repeat before the category is used up
    finished = [e for e in events.items if e["type"] == "track_ended"]
    assert [e["reason"] for e in finished[:2]] == ["finished", "finished"]


def test_no_audio_device_degrades_to_silent_reports(monkeypatch, clips, caplog):
    monkeypatch.setenv("SDL_AUDIODRIVER", "no_such_driver")
    events = Events()
    p = PygamePlayer(events)
    p.start()
    try:
        assert not p.audio
        error = events.wait("error")
        assert error["component"] == "audio" and "no audio device" in error["message"]
        p.play(track(clips["short"], "upbeat", 0.3))
        started = events.wait("track_started")
        assert started["audio"] is False
        assert events.wait("track_ended")["reason"] == "finished"  # after its length, wall clock
        assert sum(e["type"] == "error" for e in events.items) == 1
        assert sum("no audio device" in r.getMessage() for r in caplog.records) == 1
    finally:
        p.stop()


def test_audio_device_that_appears_later_is_picked_up(monkeypatch, clips, tmp_path: Path):
    monkeypatch.setenv("SDL_AUDIODRIVER", "no_such_driver")
    events = Events()
    p = PygamePlayer(events, volume=1.0, buffer_frames=1024, reopen_s=(0.05, 0.2))
    p.start()
    try:
        events.wait("error", component="audio")
        p.play(track(clips["short"], "upbeat", 0.5))
        assert events.wait("track_started")["audio"] is False
        out = tmp_path / "audio.raw"  # the device "plugged in" while the silent track runs
        monkeypatch.setenv("SDL_DISKAUDIOFILE", str(out))
        monkeypatch.setenv("SDL_DISKAUDIODELAY", "2")
        monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
        events.wait("recovered", component="audio")
        assert p.audio
        kinds = [e["type"] for e in events.items]
        assert kinds.index("recovered") > kinds.index("track_ended")  # between tracks, not mid-song
        p.play(track(clips["short2"], "upbeat", 2.0))
        started = events.wait("track_started", path=str(clips["short2"]))
        assert started["audio"] is True
        before = wait_audio(out, 1.0)
        assert rms(out, before) > AUDIBLE
    finally:
        p.stop()


@pytest.mark.slow
def test_a_device_that_stops_taking_sound_is_given_up_and_retried(monkeypatch, clips, tmp_path):
    # SDL's disk driver with a 3 s wait per 23 ms buffer: the mixer is barely called, as when
    # a USB speaker is pulled out mid-song and SDL stops asking for audio.
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    monkeypatch.setenv("SDL_DISKAUDIODELAY", "3000")
    events = Events()
    p = PygamePlayer(events, buffer_frames=1024, stall_s=1.0, reopen_s=(30.0, 60.0))
    p.start()
    try:
        assert p.audio
        p.play(track(clips["long"]))
        assert events.wait("track_started")["audio"] is True
        error = events.wait("error", component="audio")
        assert "took no sound" in error["message"]
        restarted = events.wait("track_started", audio=False)  # the same track, silently
        assert restarted["path"] == str(clips["long"])
        assert not p.audio and p.state == "playing"
        assert not any(e["type"] == "track_ended" for e in events.items)  # the plan holds
    finally:
        p.stop()


def test_a_paused_track_is_not_a_stalled_device(disk_audio, clips):
    events = Events()
    p = PygamePlayer(events, buffer_frames=1024, stall_s=0.3)
    p.start()
    try:
        p.play(track(clips["long"]))
        events.wait("track_started")
        p.pause()
        wait_until(lambda: p.state == "paused", "paused")
        time.sleep(0.6)  # twice the stall limit without progress, on purpose
        p.resume()
        wait_audio(disk_audio, 0.5)
        assert p.audio and not any(e["type"] == "error" for e in events.items)
    finally:
        p.stop()


def test_null_player_reports_without_sound(clips):
    events = Events()
    p = make_player(0.5, events, no_audio=True)
    assert isinstance(p, PygamePlayer)
    null = PygamePlayer(events, audio=False)
    for player in (p, null):
        player.start()
        player.play(track(clips["short"], "upbeat", 30.0))
        player.pause()
        wait_until(lambda pl=player: pl.state == "paused", "paused")
        player.resume()
        player.stop()
    assert [e["type"] for e in events.items] == ["track_started", "track_ended"] * 2
    assert all(e["audio"] is False for e in events.items)
    assert {e.get("reason") for e in events.items} == {None, "stopped"}
    with pytest.raises(ValueError):
        null.set_volume("loud")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        null.set_volume(float("nan"))


def test_callback_errors_do_not_stop_playback(disk_audio, clips):
    seen: list[str] = []

    def flaky(event: PlayerEvent) -> None:
        seen.append(event.TYPE)
        raise RuntimeError("consumer bug")

    p = PygamePlayer(flaky, buffer_frames=1024)
    p.start()
    try:
        p.play(track(clips["short"], "upbeat", 2.0))
        p.play(track(clips["short2"], "upbeat", 2.0))
        wait_until(lambda: seen.count("track_started") == 2, "two starts")
    finally:
        p.stop()
