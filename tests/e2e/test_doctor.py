"""`moodpi doctor` with real parts: a replay camera, the real models, SDL's disk audio driver,
a generated music library, a real Mosquitto broker, and fake sysfs files for the Pi checks."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from moodpi import config as cfg
from moodpi.cli.doctor.check import Check
from moodpi.cli.doctor.devices import check_audio, check_camera
from moodpi.cli.doctor.home import check_broker, check_music
from moodpi.cli.doctor.host import check_temperature, check_throttling
from moodpi.cli.doctor.models import check_emotion_model
from moodpi.cli.doctor.report import _guarded, report, run_checks
from moodpi.system.status import StatusFile, status_document
from moodpi.system.status_reader import read_status
from tests.support.environ import child_env
from tests.support.state import DIAGNOSTICS, NO_MUSIC, PLAYING, make_snapshot

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "tests" / "fixtures" / "faces"


@pytest.fixture(autouse=True)
def disk_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)


def _config(tmp_path: Path, music: Path | None = None, **sections: dict[str, object]) -> cfg.Config:
    data: dict[str, object] = {
        "state_dir": str(tmp_path / "state"),
        "camera": {"source": f"replay:{FACES}", "fps": 10.0},
        "music": {"root": str(music) if music else ""},
    }
    for name, values in sections.items():
        data[name] = {**dict(data.get(name, {})), **values}  # type: ignore[arg-type]
    return cfg.from_dict(data)


def _stopped(tmp_path: Path) -> object:
    return read_status(tmp_path / "nothing.json")


def test_all_checks_pass_on_a_replay_with_real_models(tmp_path: Path, music_root: Path) -> None:
    config = _config(tmp_path, music_root)
    checks = {c.name: c for c in run_checks(config, _stopped(tmp_path), pi=False)}  # type: ignore[arg-type]
    assert {name: c.level for name, c in checks.items()} == {
        "runtime": "ok",
        "camera": "ok",
        "model": "ok",
        "faces": "ok",
        "audio": "ok",
        "music": "ok",
        "broker": "skip",  # mqtt.host is empty
        "disk": "ok",
    }, "\n".join(c.line() for c in checks.values())
    assert "48x48" in checks["camera"].detail  # the fixture faces, read as frames
    assert "bundled happy face → happy" in checks["model"].detail
    assert "SDL_AUDIODRIVER=disk" in checks["audio"].detail


def test_failures_name_the_problem_and_give_a_hint(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        camera={"source": f"replay:{tmp_path / 'no-such-clip.mp4'}"},
        emotion={"model": str(tmp_path / "missing.tflite")},
    )
    camera = check_camera(config, _stopped(tmp_path))  # type: ignore[arg-type]
    model = check_emotion_model(config)
    assert camera.level == "fail" and "hint:" in camera.line()
    assert model.level == "fail" and "missing.tflite" in model.detail
    music = check_music(config)
    assert music.level == "warn" and "music.root" in music.detail


def test_a_model_run_outside_its_calibrated_flip_mode_is_a_warning(tmp_path: Path) -> None:
    config = _config(tmp_path)
    sidecar = config.model_path(config.emotion.model).with_suffix(".json")
    calibrated = json.loads(sidecar.read_text())
    assert check_emotion_model(config).level == "ok"
    other = _config(tmp_path, emotion={"flip_average": not calibrated["flip_average"]})
    check = check_emotion_model(other)
    assert check.level == "warn" and "emotion.flip_average" in check.line()


def test_camera_and_audio_are_left_to_a_running_daemon(tmp_path: Path) -> None:
    status_file = StatusFile(tmp_path / "state" / "status.json")
    running = make_snapshot(
        started_at=0.0, music=NO_MUSIC, diagnostics=replace(DIAGNOSTICS, fps=9.5)
    )
    status_file.write(status_document(running))
    # A camera that cannot open: the doctor must not even try while the daemon holds it.
    config = _config(tmp_path, camera={"source": "v4l2:/dev/moodpi-no-such-camera"})
    daemon = read_status(status_file.path)
    assert daemon.state == "running"
    camera = check_camera(config, daemon)
    assert camera.level == "skip" and "9.5 fps" in camera.detail
    assert check_audio(config, daemon).level == "skip"  # no music: the device is unused
    # With music, the daemon's own report decides, without opening the device.
    for audio, level in ((False, "warn"), (True, "ok"), (None, "skip")):
        music = replace(PLAYING, player="playing", audio=audio)
        status_file.write(status_document(replace(running, mood=None, music=music)))
        check = check_audio(config, read_status(status_file.path))
        assert check.level == level, check


def test_music_counts_categories_and_unreadable_files(tmp_path: Path, music_root: Path) -> None:
    root = tmp_path / "music"
    shutil.copytree(music_root / "happy", root / "happy")
    (root / "sad").mkdir()
    (root / "sad" / "broken.mp3").write_bytes(b"not audio at all")
    check = check_music(_config(tmp_path, root))
    assert check.level == "warn"
    assert f"happy {len(list((root / 'happy').iterdir()))}" in check.detail
    assert "1 unreadable (mp3 1: broken.mp3)" in check.detail
    assert "library scan names every unreadable file" in check.hint


def test_broker_with_tls_and_credentials(tmp_path: Path, mqtt_broker_tls: Any) -> None:
    assert mqtt_broker_tls.tls is not None
    password_file = tmp_path / "password"
    password_file.write_text(f"{mqtt_broker_tls.password}\n")
    mqtt = {
        "host": "localhost",
        "port": mqtt_broker_tls.port,
        "username": mqtt_broker_tls.username,
        "password_file": str(password_file),
        "tls_ca": str(mqtt_broker_tls.tls.ca),
    }
    check = check_broker(_config(tmp_path, mqtt=mqtt))
    assert check.level == "ok", check.line()
    assert "(TLS)" in check.detail and mqtt_broker_tls.username in check.detail

    password_file.write_text("wrong\n")
    refused = check_broker(_config(tmp_path, mqtt=mqtt))
    assert refused.level == "fail" and "username or password" in refused.detail


def test_broker_that_does_not_answer(tmp_path: Path) -> None:
    from tests.support.broker import free_port

    config = _config(tmp_path, mqtt={"host": "127.0.0.1", "port": free_port()})
    check = check_broker(config, timeout_s=1.0)
    assert check.level == "fail" and "no answer" in check.detail


@pytest.mark.parametrize(
    ("millidegrees", "level"),
    [("45000\n", "ok"), ("74500", "warn"), ("83000", "fail"), ("x", "skip")],
)
def test_cpu_temperature(tmp_path: Path, millidegrees: str, level: str) -> None:
    thermal = tmp_path / "temp"
    thermal.write_text(millidegrees)
    assert check_temperature(thermal).level == level


@pytest.mark.parametrize(
    ("output", "level", "words"),
    [
        ("throttled=0x0\n", "ok", "no under-voltage"),
        ("throttled=0x50000\n", "warn", "under-voltage has occurred"),
        ("throttled=0x50005\n", "fail", "under-voltage now, throttled now"),
        ("garbage", "warn", "cannot read"),
    ],
)
def test_throttling_flags(output: str, level: str, words: str) -> None:
    check = check_throttling(run=lambda _command: output)
    assert check.level == level and words in check.detail


def test_throttling_is_read_from_sysfs_first(tmp_path: Path) -> None:
    flags = tmp_path / "get_throttled"
    flags.write_text("50005\n")  # the firmware's sysfs file: hex digits, no prefix
    check = check_throttling(sysfs=flags)
    assert check.level == "fail" and "under-voltage now, throttled now" in check.detail
    flags.write_text("0\n")
    assert check_throttling(sysfs=flags).level == "ok"


def test_a_crashing_check_is_a_failure_not_a_crash() -> None:
    def broken() -> Check:
        raise KeyError("surprise")

    check = _guarded("broken", broken)
    assert check.level == "fail" and "KeyError" in check.detail
    out = io.StringIO()
    assert report([check, Check("x", "ok", "fine")], out) == 1
    assert "1 check(s) failed" in out.getvalue()


def _cli_env(tmp_path: Path) -> dict[str, str]:
    audio = str(tmp_path / "audio.raw")
    return child_env(drop=("RUNTIME_DIR",), SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=audio)


def test_moodpi_doctor_command(tmp_path: Path, music_root: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[camera]\nsource = "replay:{FACES}"\n'
        f'[music]\nroot = "{music_root}"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "moodpi", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_cli_env(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    camera" in result.stdout and "all checks passed" in result.stdout

    config.write_text(config.read_text() + '[emotion]\nmodel = "nope.tflite"\n')
    failing = subprocess.run(
        [sys.executable, "-m", "moodpi.cli.doctor", "--smoke", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_cli_env(tmp_path),
        check=False,
    )
    assert failing.returncode == 1
    assert "fail  model" in failing.stdout
    assert "XNNPACK" not in failing.stderr  # the face model loaded, quietly


def _doctor(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moodpi", "doctor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(drop=("RUNTIME_DIR",), **env),
        check=False,
    )


# ALSA with a card that is not there: SDL fails to open it and ALSA explains on fd 2 itself.
NO_CARD = {"SDL_AUDIODRIVER": "alsa", "AUDIODEV": "hw:9,0"}


def test_a_box_without_a_speaker_passes_with_audio_output_none(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n[camera]\nsource = "replay:{FACES}"\n')
    speakerless = _doctor(config, **NO_CARD)
    assert speakerless.returncode == 1 and "fail  audio" in speakerless.stdout

    config.write_text(config.read_text() + '[audio]\noutput = "none"\n')
    result = _doctor(config, **NO_CARD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skip  audio    off (audio.output = none)" in result.stdout.splitlines()
    assert "all checks passed" in result.stdout


def test_doctor_says_its_checks_and_no_library_chatter_without_v(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n[camera]\nsource = "replay:{FACES}"\n')
    chatty = _doctor(config, "-v", **NO_CARD)
    assert "ALSA lib" in chatty.stderr and "XNNPACK" in chatty.stderr  # there is chatter to hide
    quiet = _doctor(config, **NO_CARD)
    assert quiet.stderr == ""
    # The same report: a line per check, in the same order, with the same verdicts.
    assert [line[:14] for line in quiet.stdout.splitlines()] == [
        line[:14] for line in chatty.stdout.splitlines()
    ]


def test_music_speaks_of_the_plane_not_of_artist_folders(tmp_path: Path) -> None:
    """An `Artist/Album/NN Track` library: no artist is a category; nothing placed yet is a
    warning that says what happens meanwhile; once analysed, it is fine; a root that is gone
    is a failure that names it."""
    from moodpi.music.analysis import analyser
    from moodpi.music.library.library import library_from_config
    from musicgen import write_clip

    root = tmp_path / "music"
    for n, artist in enumerate(("Adele", "Bach", "Coltrane")):
        write_clip(root / artist / "Album" / f"0{n} Track.wav", "calming", seconds=1.0)
    config = _config(tmp_path, root)
    check = check_music(config)
    assert check.level == "warn", check.line()
    assert "3 tracks, 0 placed on the valence-arousal plane" in check.detail
    assert "category folders: none" in check.detail and "none placed yet" in check.detail
    assert "adele" not in check.detail.lower()

    library_from_config(config).scan()  # as the daemon does, then its analyser
    assert analyser.run(config.state_path / "library.sqlite3").analysed == 3
    check = check_music(config)
    assert check.level == "ok" and "3 tracks, 3 placed" in check.detail, check.line()
    assert "no tracks for" not in check.detail

    gone = _config(tmp_path, tmp_path / "not-mounted")
    check = check_music(gone)
    assert check.level == "fail" and "does not exist" in check.detail, check.line()
