"""The real daemon on an Apple-style library: AAC in .m4a only (encoded by PyAV in the test, with
ReplayGain tags), one damaged file and one DRM-protected purchase. It scans, plays what the moods
ask for through SDL's disk driver at the levelled loudness, and names what it cannot read in its
log and its status file."""

from __future__ import annotations

import json
from pathlib import Path

import mutagen
import numpy as np
import pytest

from moodpi.music.analysis.loudness import segment_loudness
from tests.support.audio_files import write_tone
from tests.support.daemon import run_daemon

pytestmark = pytest.mark.slow

LEVELS_DBFS = (-8.0, -12.0, -16.0)  # stereo tones near 1 kHz: these LUFS, all above the target
TARGET_LUFS = -20.0
VOLUME = 0.5  # -6 dB on top


def test_an_m4a_library_plays_levelled_and_its_bad_files_are_named(
    tmp_path: Path, e2e_replay: Path
) -> None:
    music = tmp_path / "Music" / "iTunes Media"
    for i, level in enumerate(LEVELS_DBFS):
        song = write_tone(music / "Artist" / f"0{i + 1} Song.m4a", 900.0 + 50 * i, seconds=8.0,
                          level_dbfs=level)  # fmt: skip
        # Tagged as ReplayGain taggers do (gain to -18 LUFS): the scan knows each track's
        # loudness before anything plays, the analysis of a first run still under way.
        tags = mutagen.File(song)
        tags["----:com.apple.iTunes:replaygain_track_gain"] = [f"{-18 - level:+.2f} dB".encode()]
        tags.save()
    (music / "Artist" / "04 Damaged.m4a").write_bytes(b"\0\0\0\x20ftypM4A " + bytes(3000))
    (music / "Artist" / "05 Bought.m4p").write_bytes(
        (music / "Artist" / "01 Song.m4a").read_bytes()
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[music]\nroot = "{music}"\nfade_ms = 300\nvolume = {VOLUME}\n'
        f"loudness_target_lufs = {TARGET_LUFS}\n[mood]\nabsent_after_s = 2.0\n"
        "[camera]\nrealtime = true\n"  # 16 s of faces, so that tracks play for seconds
    )
    events_path = tmp_path / "events.jsonl"
    source = f"replay:{e2e_replay / 'frames'}"
    result = run_daemon(
        tmp_path, "--config", str(config), "--source", source, "--events-jsonl", str(events_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "04 Damaged.m4a" in result.stderr and "05 Bought.m4p" in result.stderr

    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    started = [e for e in events if e["type"] == "track_started"]
    assert started and all(e["path"].endswith(" Song.m4a") and e["audio"] for e in started)
    assert not [e for e in events if e["type"] == "track_skipped"]

    audio = np.fromfile(tmp_path / "audio.raw", dtype="<i2").reshape(-1, 2) / 32768
    assert np.abs(audio).max() > 0.05, "SDL rendered silence"
    # Whatever played, it played at the target, less the volume: each second of steady sound.
    seconds = [(s, s + 1.0) for s in range(len(audio) // 44100)]
    steady = [x for x in segment_loudness(audio, 44100, seconds, trim_s=0.0)
              if x is not None and x > TARGET_LUFS - 20]  # fmt: skip
    assert len(steady) >= 3
    expected = TARGET_LUFS + 20 * np.log10(VOLUME)
    assert np.median(steady) == pytest.approx(expected, abs=1.0)

    status = json.loads((tmp_path / "state" / "status.json").read_text())
    library = status["library"]
    assert library["unreadable"] == {"m4a": 1, "m4p": 1}
    assert [Path(p).name for p in library["unreadable_files"]["m4p"]] == ["05 Bought.m4p"]
