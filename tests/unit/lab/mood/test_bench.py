"""`moodpi bench --mood`: the real daemon on a labelled replay, scored; bad replays refused."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from moodpi.lab.mood.bench import cli_mood_bench
from tests.support.truth import TRUTH, write_truth


def test_cli_refuses_a_missing_or_empty_replay(tmp_path: Path) -> None:
    def run(folder: Path) -> int:
        return cli_mood_bench(argparse.Namespace(mood=str(folder), json=True, config=None))

    assert run(tmp_path / "nothing") == 66
    assert run(write_truth(tmp_path / "bad", {"fps": "ten"})) == 65
    assert run(write_truth(tmp_path / "empty", TRUTH)) == 66  # truth but no frames


@pytest.mark.slow
def test_bench_runs_the_real_daemon(
    e2e_replay: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The real daemon on the shared 16 s replay (happy, empty room, surprise) gets scored."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    assert cli_mood_bench(argparse.Namespace(mood=str(e2e_replay), json=True, config=None)) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["segments"], result["face_segments"], result["true_changes"]) == (3, 2, 2)
    assert result["frames"] == 160 and result["fps"] == 10.0
    assert result["labels"] == "original"  # the fixture faces: FER-2013's own labels
    assert result["published_changes"] >= 1
    assert set(result["pass"]) == {"flicker", "agreement", "median_delay_s"}

    # The same replay twice, pooled: every count doubles, the ratios stay.
    twice = argparse.Namespace(mood=[str(e2e_replay)] * 2, json=True, config=None)
    assert cli_mood_bench(twice) == 0
    pooled = json.loads(capsys.readouterr().out)
    assert len(pooled["replays"]) == 2 and pooled["frames"] == 320
    assert pooled["true_changes"] == 4
    assert pooled["published_changes"] == 2 * result["published_changes"]
    assert pooled["flicker"] == result["flicker"] and pooled["labels"] == "original"
