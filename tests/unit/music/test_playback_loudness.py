"""scripts/music/playback_loudness.py, the demo's measure of loudness steps, on a recording made
here: three tones of known loudness, rendered 5 % slower than the wall clock, as SDL's disk
driver does, and the events that say when each played."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.support.audio_files import tone
from tests.support.daemon import REPO

RATE_HZ = 44100


def _script() -> ModuleType:
    path = REPO / "scripts" / "music" / "playback_loudness.py"
    spec = importlib.util.spec_from_file_location("playback_loudness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _at(seconds: float) -> str:
    stamp = datetime.fromtimestamp(1_800_000_000 + seconds, tz=UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_each_track_is_measured_where_it_played(tmp_path: Path, capsys, monkeypatch):
    levels = [-14.0, -24.0, -20.0]  # LUFS of each stereo tone near 1 kHz
    slow = 0.95  # the recording holds 0.95 s for each second of wall clock
    silence = np.zeros((int(0.5 * RATE_HZ), 2))
    parts, events, wall = [silence], [], 0.5 / slow
    for i, level in enumerate(levels):
        played = tone(997.0, 8.0 * slow, level).T
        path = f"/music/t{i}.flac"
        events.append({"type": "track_started", "at": _at(wall), "path": path, "title": f"t{i}"})
        wall += len(played) / RATE_HZ / slow
        events.append({"type": "track_ended", "at": _at(wall), "path": path, "reason": "x"})
        parts.append(played)
    raw = tmp_path / "playback.raw"
    (np.concatenate([*parts, silence]) * 32767).astype("<i2").tofile(raw)
    log = tmp_path / "events.jsonl"
    log.write_text("a log line\n" + "".join(json.dumps(e) + "\n" for e in events))

    monkeypatch.setattr("sys.argv", ["playback_loudness", str(raw), str(log), "--json"])
    assert _script().main() == 0
    found = json.loads(capsys.readouterr().out)
    assert [t["title"] for t in found["tracks"]] == ["t0", "t1", "t2"]
    assert [t["lufs"] for t in found["tracks"]] == pytest.approx(levels, abs=0.2)
    assert found["steps_db"] == pytest.approx([10.0, 4.0], abs=0.3)
    assert found["max_step_db"] == pytest.approx(10.0, abs=0.3)
