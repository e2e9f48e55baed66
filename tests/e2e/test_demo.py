"""`make demo` as a newcomer meets it (scripts/make_demo.py): the daemon's events on stdout, then a
three-line summary made from those events, whose listening command and next step are true."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.test_bench_scripts import load_script
from tests.support.daemon import REPO
from tests.support.environ import child_env
from tests.support.pace import seconds

make_demo = load_script("make_demo")


@pytest.mark.slow
def test_the_demo_ends_with_a_summary_made_from_its_events(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = child_env(SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=str(out / "playback.raw"))
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_demo.py"), "--out", "demo", "--fast"],
        cwd=tmp_path,  # as `make demo` runs it: paths in the summary are relative to here
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds(300),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout: events only
    moods = [e["emotion"] for e in events if e["type"] == "mood"]
    played = [e for e in events if e["type"] == "track_started"]
    assert len(moods) >= 3 and played

    seen, listen, after = proc.stderr.rstrip("\n").splitlines()[-3:]
    assert seen.startswith(f"demo: moods seen: {' → '.join(moods)}")
    assert f"; {len(played)} tracks played: {played[0]['title']} ({played[0]['category']})" in seen
    playback = out / "playback.raw"
    size = playback.stat().st_size
    assert size > 0 and size % 4 == 0  # whole 16-bit stereo frames
    assert listen.startswith("listen: aplay -f cd demo/playback.raw ")
    assert f"({size / (44100 * 4):.0f} s of raw PCM" in listen

    # What to try next works as written, from where the demo was run.
    assert after.startswith("next: ")
    command = after.removeprefix("next: ").split(" (")[0]
    assert command.endswith("library show --config demo/config.toml"), command
    tried = subprocess.run(
        shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert tried.returncode == 0, tried.stderr[-2000:]
    assert "placed on the valence-arousal plane" in tried.stdout


def test_the_summary_counts_what_happened() -> None:
    events = [
        {"type": "presence", "present": True},
        {"type": "mood", "emotion": "happy"},
        {"type": "track_started", "title": "", "path": "/m/a.ogg", "category": "happy"},
        {"type": "presence", "present": False},
        {"type": "mood", "emotion": "sad"},
        *({"type": "track_started", "title": f"t{i}", "category": "sad"} for i in range(7)),
    ]
    seen, listen, _next = make_demo.summary(events, None, Path("demo/config.toml"))
    assert seen == (
        "demo: moods seen: happy → sad, the room empty once; 8 tracks played: a (happy), "
        "t0 (sad), t1 (sad), t2 (sad), t3 (sad), t4 (sad), …"
    )
    assert listen.startswith("listen: it played through the sound card")
    assert make_demo.summary([], None, Path("c.toml"))[0] == "demo: no mood seen; no track played"


TONE_CHECK = textwrap.dedent(
    """
    import inspect, sys, time, wave
    from pathlib import Path
    import numpy as np
    from moodpi.music.player import PygamePlayer
    from moodpi.music.track import Track
    defaults = inspect.signature(PygamePlayer.__init__).parameters
    print(*(defaults[k].default for k in ("frequency_hz", "size_bits", "channels")))
    tone = Path(sys.argv[1])
    t = np.arange(22050) / 22050  # 1 s of 1 kHz, mono, at another rate than the mixer's
    with wave.open(str(tone), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
        w.writeframes((0.5 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2").tobytes())
    player = PygamePlayer(volume=1.0)
    player.start()
    player.play(Track(tone, "test", 1.0, "tone"))
    deadline = time.monotonic() + 10
    while player.state != "playing" and time.monotonic() < deadline:
        time.sleep(0.02)
    while player.state == "playing" and time.monotonic() < deadline:
        time.sleep(0.02)
    player.stop()
    """
)


def test_the_playback_file_is_the_format_the_summary_names(tmp_path: Path) -> None:
    """The real player through SDL's disk driver: a 1 kHz tone read back as 16-bit little-endian
    stereo at 44.1 kHz is 1 kHz, on both channels (another rate or layout would move the peak)."""
    raw = tmp_path / "playback.raw"
    env = child_env(SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=str(raw), SDL_VIDEODRIVER="dummy")
    proc = subprocess.run(
        [sys.executable, "-c", TONE_CHECK, str(tmp_path / "tone.wav")],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds(60),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rate, bits, channels = (int(x) for x in proc.stdout.split()[-3:])
    assert (rate, abs(bits) // 8, channels) == (
        make_demo.PLAYBACK_RATE_HZ,
        make_demo.PLAYBACK_SAMPLE_BYTES,
        make_demo.PLAYBACK_CHANNELS,
    )
    frames = np.fromfile(raw, dtype="<i2").reshape(-1, 2).astype(float)
    sounding = np.flatnonzero(np.abs(frames[:, 0]) > 1000)
    assert len(sounding) > 0.5 * rate  # most of the second came out
    window = frames[sounding[0] : sounding[0] + rate // 2]  # half a second, contiguous
    peak_hz = np.argmax(np.abs(np.fft.rfft(window[:, 0]))) * rate / len(window)
    assert abs(peak_hz - 1000) < 5, peak_hz
    assert np.corrcoef(window[:, 0], window[:, 1])[0, 1] > 0.99  # the mono tone on both channels
