"""`moodpi library scan|show`: the scan report, the listing, and show --json's contract."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from moodpi.cli.library import cli_library
from moodpi.music.analysis import features
from musicgen import generate_library, write_clip


def test_cli_scan_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = tmp_path / "music"
    generate_library(library, seconds=1.0, seed=1)
    (library / "upbeat").rename(library / ".hidden")  # an uplift category goes missing
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


def test_cli_scan_analyses_and_show_json_keeps_its_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import json

    from moodpi.cli.library import cli_library

    for i, category in enumerate(("sad", "angry")):
        write_clip(tmp_path / "music" / f"{i}.wav", category, seconds=2.0)
    cfg = tmp_path / "moodpi.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "music"\n')
    scan = argparse.Namespace(action="scan", json=True, config=str(cfg), no_analysis=False)
    assert cli_library(scan) == 0
    assert json.loads(capsys.readouterr().out)["analysis"]["analysed"] == 2
    assert cli_library(argparse.Namespace(action="show", json=True, config=str(cfg))) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    contract = {"path", "valence", "arousal", "tempo_bpm", "key", "mode", "confidence"}
    assert len(rows) == 2 and all(contract <= row.keys() for row in rows)
    for row in rows:
        assert -1 <= row["valence"] <= 1 and -1 <= row["arousal"] <= 1
        assert row["mode"] in ("major", "minor") and row["key"] in features.KEYS
        assert row["tempo_bpm"] > 0 and 0 <= row["confidence"] <= 1


def test_an_artist_tree_is_music_on_the_plane_not_categories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`Artist/Album/NN Track`: `scan` counts tracks and placements and lists no artist as a
    category; `show` tags no track with its artist folder; only `calming/` is a category."""
    root = tmp_path / "music"
    for n, artist in enumerate(("Adele", "Bach", "Coltrane")):
        write_clip(root / artist / "25" / f"0{n} Song.wav", "happy", seconds=2.0, variant=n)
    write_clip(root / "calming" / "mine.wav", "calming", seconds=2.0)
    cfg = tmp_path / "moodpi.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "music"\n')

    scan = argparse.Namespace(action="scan", json=False, config=str(cfg), no_analysis=False)
    assert cli_library(scan) == 0
    text = capsys.readouterr().out
    assert text.startswith("4 tracks, 0 placed on the valence-arousal plane"), text
    assert "category folders and playlists (played ahead of the analysis): calming 1" in text
    assert "4 of 4 placed on the valence-arousal plane" in text
    assert not any(name in text.lower() for name in ("adele", "bach", "coltrane"))

    assert cli_library(argparse.Namespace(action="show", json=False, config=str(cfg))) == 0
    text = capsys.readouterr().out
    assert "4 tracks, 4 placed" in text and "[calming] mine" in text
    assert "[adele]" not in text.lower() and "00 Song" in text

    assert cli_library(argparse.Namespace(action="show", json=True, config=str(cfg))) == 0
    rows = {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["mine.wav"]["category"] == "calming" and rows["00 Song.wav"]["category"] is None
