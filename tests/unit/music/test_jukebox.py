"""The music stage is decided once: a jukebox where a library is configured, else a silent one.

The jukebox at work (a real library, a silent player thread) is tested in
tests/e2e/test_faults.py (commands against its live state) and test_watcher.py (a flat library
placed by the analyser's child); the daemon with and without music end to end in tests/e2e.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from moodpi import config as config_mod
from moodpi.app import Daemon
from moodpi.config import EX_CONFIG, Config
from moodpi.events import EventHub
from moodpi.music.jukebox import Jukebox, NoMusic, music_stage
from moodpi.state import MusicState
from moodpi.types import MoodChange, PresenceChange
from tests.support.pace import seconds


def _config(tmp_path: Path, **music: object) -> Config:
    return config_mod.from_dict({"state_dir": str(tmp_path / "state"), "music": music})


def test_without_a_library_the_stage_is_silent_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stage = music_stage(_config(tmp_path, policy="uplift"), EventHub(), audio=True, clock=float)
    assert isinstance(stage, NoMusic)
    with caplog.at_level(logging.INFO, logger="moodpi.music.jukebox"):
        stage.start()
        stage.on_mood(MoodChange("sad", 0.9, 1.0))
        stage.on_presence(PresenceChange(False, 2.0))
        stage.tick(3.0)
        stage.poll()
        stage.command("volume", 50)
        stage.stop()
    assert stage.state() == MusicState("uplift", None, None, "off", None)
    assert [r.getMessage() for r in caplog.records] == [
        "no music library configured (music.root): running without playback",
        "command volume ignored: no music library",
    ]
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("where", ["root", "playlists"])
def test_with_a_library_the_stage_is_a_jukebox_built_without_io(tmp_path: Path, where: str) -> None:
    threads = threading.active_count()
    config = _config(tmp_path, **{where: str(tmp_path / "music")})
    stage = music_stage(config, EventHub(), audio=False, clock=float)
    assert isinstance(stage, Jukebox)
    assert threading.active_count() == threads  # no scan or player thread before start()
    assert not (tmp_path / "state").exists()  # no cache opened either


def test_audio_output_none_opens_no_sound_card(
    tmp_path: Path, music_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A box without a speaker: the player never opens a device, and says sound is off (null),
    not missing (false, which raises Home Assistant's problem sensor)."""
    disk = tmp_path / "audio.raw"
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")  # a device that leaves a file when opened
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(disk))
    seen: dict[str, bool | None] = {}
    for output in ("none", "auto"):
        config = config_mod.from_dict({
            "state_dir": str(tmp_path / output), "audio": {"output": output},
            "music": {"root": str(music_root), "analysis": False},
        })  # fmt: skip
        stage = music_stage(config, EventHub(), audio=True, clock=float)
        stage.start()
        try:
            deadline = time.monotonic() + (seconds(10) if output == "auto" else 0.5)
            while stage.state().audio is not True and time.monotonic() < deadline:
                time.sleep(0.05)  # the player opens its device on its own thread
            seen[output] = stage.state().audio
        finally:
            stage.stop()
        if output == "none":
            assert not disk.exists()
    assert seen == {"none": None, "auto": True}
    assert disk.exists()  # the device "auto" opened


def test_a_daemon_stopped_before_its_music_step_reports_the_player_off(
    tmp_path: Path, e2e_replay: Path
) -> None:
    """The status written on the way out says what ran: no music step, no player."""
    config = config_mod.from_dict(
        {
            "state_dir": str(tmp_path / "state"),
            "camera": {"source": f"replay:{e2e_replay / 'frames'}"},
            "emotion": {"model": str(tmp_path / "no.tflite")},  # the models step fails
            "history": {"enabled": False},
            "music": {"root": str(tmp_path / "music")},
        }
    )
    assert Daemon(config, audio=False).run() == EX_CONFIG
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert (status["player"], status["audio"], status["now_playing"]) == ("off", None, None)


def test_the_daemon_never_imports_the_analyser() -> None:
    heavy = "('scipy', 'soundfile', 'moodpi.music.analysis')"  # each with everything under it
    code = (
        "import sys, moodpi.app, moodpi.music.jukebox; "
        f"bad = [m for m in sys.modules if m.startswith({heavy})]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
