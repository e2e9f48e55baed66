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


# ---------------------------------------------------------------------------------------------
# library plot


def _row(title: str, valence: float, arousal: float) -> dict[str, object]:
    """A placed track as `track_rows` gives it (the documented `show --json` object)."""
    return {"title": title, "artist": "", "valence": valence, "arousal": arousal,
            "mode": "major", "confidence": 1.0}  # fmt: skip


def test_plot_names_each_track_and_keeps_dots_at_the_edges_whole() -> None:
    from moodpi.cli.library import aims, plot_figure
    from moodpi.config import MusicConfig

    corners = [_row(f"corner {v:+} {a:+}", v, a) for v in (-1.0, 1.0) for a in (-1.0, 1.0)]
    rows = [*corners, _row("middle", 0.1, -0.2)]
    fig = plot_figure(rows, aims(MusicConfig()), "mirror")
    fig.canvas.draw()
    ax = fig.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {r["title"] for r in rows} <= texts  # every dot named
    assert ax.get_xlabel().startswith("valence") and ax.get_ylabel().startswith("arousal")
    # Each whole dot (centre +- radius, in pixels) lies inside the axes: nothing clipped.
    dots = next(c for c in ax.collections if c.get_gid() == "tracks")
    box = ax.get_window_extent()
    radii = [(size**0.5) / 2 * fig.dpi / 72 for size in dots.get_sizes()]
    for (x, y), r in zip(ax.transData.transform(dots.get_offsets()), radii, strict=True):
        assert box.x0 < x - r and x + r < box.x1 and box.y0 < y - r and y + r < box.y1


def test_plot_stars_where_the_policy_aims_each_mood() -> None:
    from moodpi.cli.library import aims, plot_figure
    from moodpi.config import MusicConfig
    from moodpi.music.policy import CATEGORY_POINTS, EMOTION_POINTS

    mirror = aims(MusicConfig(policy="mirror"))
    assert mirror == {point: [emotion] for emotion, point in EMOTION_POINTS.items()}
    uplift = aims(MusicConfig(policy="uplift"))
    assert uplift[CATEGORY_POINTS["calming"]] == ["sad \u2192 calming"]
    assert sum(len(names) for names in uplift.values()) == 7
    fig = plot_figure([], uplift, "uplift")
    ax = fig.axes[0]
    stars = [tuple(c.get_offsets()[0]) for c in ax.collections if c.get_gid() != "tracks"]
    assert sorted(stars) == sorted(uplift)
    assert "sad \u2192 calming" in {t.get_text() for t in ax.texts}


def test_plot_leaves_names_to_hover_when_there_are_many() -> None:
    from moodpi.cli.library import LABELLED_MAX, aims, plot_figure
    from moodpi.config import MusicConfig

    rows = [
        _row(f"track {i}", (i % 20) / 10 - 1, (i // 20) / 4 - 1) for i in range(LABELLED_MAX + 1)
    ]
    ax = plot_figure(rows, aims(MusicConfig()), "mirror").axes[0]
    assert not {r["title"] for r in rows} & {t.get_text() for t in ax.texts}
    assert "names on hover" in ax.get_title()


def test_plot_command_writes_an_svg_with_each_track_named_on_hover(tmp_path: Path) -> None:
    import subprocess
    import sys
    from xml.etree import ElementTree as ET

    from tests.support.environ import child_env

    titles = ("Rain on the Window", "Morning Run", "Slow Sunday")
    for title, category in zip(titles, ("sad", "happy", "calming"), strict=True):
        write_clip(tmp_path / "music" / f"{title}.wav", category, seconds=2.0)
    cfg = tmp_path / "moodpi.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "music"\n')
    scan = argparse.Namespace(action="scan", json=True, config=str(cfg), no_analysis=False)
    assert cli_library(scan) == 0
    out = tmp_path / "library.svg"
    result = subprocess.run(
        [sys.executable, "-m", "moodpi", "library", "plot", "--config", str(cfg), str(out)],
        capture_output=True, text=True, timeout=120, env=child_env(), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out} (3 tracks)" and result.stderr == ""
    hover = [e.text or "" for e in ET.parse(out).iter("{http://www.w3.org/2000/svg}title")]
    assert sorted(h.split(" (valence")[0] for h in hover) == sorted(titles)
    bad = subprocess.run(
        [sys.executable, "-m", "moodpi", "library", "plot", f"{tmp_path}/x.gif", "-c", str(cfg)],
        capture_output=True, text=True, timeout=120, env=child_env(), check=False,
    )  # fmt: skip
    assert bad.returncode == 64 and not (tmp_path / "x.gif").exists()


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
