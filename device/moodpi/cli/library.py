"""`moodpi library scan|show|plot`: scan and analyse the music library, list it, or draw it.

`scan` reads new or changed files, then (unless `--no-analysis`) places every track not yet
analysed on the valence-arousal plane, in this process at nice 10, with a progress bar on a
terminal; interrupted (Ctrl-C, kill -9), the next scan resumes. `show --json` prints one JSON
object per track per line: a stable contract, documented in docs/library.md. `plot FILE` draws
the placed tracks (.png, .pdf, or .svg with each track's name on hover) and a star where
music.policy aims each mood's music (moodpi.music.policy.targets, as the daemon does).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from moodpi.config import MusicConfig
from moodpi.music.library import db as library_db
from moodpi.music.library.db import Analysis
from moodpi.music.library.health import empty_mapped_categories, library_problem
from moodpi.music.library.library import Library, ScanReport, library_from_config
from moodpi.music.policy import targets
from moodpi.types import EMOTIONS


def cli_library(args: argparse.Namespace) -> int:
    from moodpi import config as config_module

    config = config_module.load(args.config)
    library = library_from_config(config)
    if not library.configured:
        print("no music library configured: set music.root or music.playlists", file=sys.stderr)
        return 0
    if args.action == "scan":
        return _scan(library, args)
    if library.load() == 0:
        library.scan()
    if args.action == "plot":
        return _plot(library, config.music, Path(args.file or "library.png"))
    if args.json:
        _print_json(library)
    else:
        _print_show(library, empty_mapped_categories(config.music, library))
    return 0


def _scan(library: Library, args: argparse.Namespace) -> int:
    report = library.scan()
    if not args.json:
        _print_scan(report)
        if problem := library_problem(library, report.tracks):
            print(problem, file=sys.stderr)
    done = None
    if not getattr(args, "no_analysis", False) and library.cache_path is not None:
        from moodpi.music.analysis import analyser  # scipy and soundfile: only when analysing

        analyser.be_nice()
        bar = sys.stderr if sys.stderr.isatty() else None
        done = analyser.run(library.cache_path, bar=bar)
    if args.json:
        print(json.dumps({**report.as_dict(), "analysis": asdict(done) if done else None},
                         indent=2))  # fmt: skip
        return 0
    if done is not None and done.failed:
        _print_unreadable(library)  # the scan's and the analysis's, by format
    if done is not None and done.skipped_running:
        print("another analyser is working on this library; `moodpi status` shows its progress")
    elif done is not None and (done.analysed or done.failed):
        print(f"analysed {done.analysed} tracks ({done.failed} could not be decoded),"
              f" {done.cpu_s_per_track:.2f} s CPU per track; {placed_count(library)} of"
              f" {report.tracks} placed on the valence-arousal plane")  # fmt: skip
    return 0


def placed_count(library: Library) -> int:
    """The placed tracks after an analysis run (it wrote them to the cache, not to `library`)."""
    library.load()
    return len(library.placed_tracks())


def _print_scan(report: ScanReport) -> None:
    print(
        f"{report.tracks} tracks, {report.placed} placed on the valence-arousal plane"
        f" (read {report.read}, cached {report.cached}, unreadable {report.unreadable},"
        f" removed {report.removed}, missing {report.missing}) in {report.elapsed_s:.2f} s"
    )
    print(category_folders(report.categories))
    if report.unreadable_files:
        print(f"unreadable: {formats_line(report.unreadable_formats)}")
        for path, why in report.unreadable_files.items():
            print(f"  {path}: {why}")


def category_folders(categories: dict[str, int]) -> str:
    """'category folders: sad 3, calming 2', or that there are none (the usual case)."""
    if not categories:
        return "no category folders or playlists: the analysis places every track"
    return "category folders and playlists (played ahead of the analysis): " + ", ".join(
        f"{c} {n}" for c, n in categories.items()
    )


def formats_line(counts: dict[str, int]) -> str:
    """'m4p 2, wma 1' from {format: count}."""
    return ", ".join(f"{fmt} {count}" for fmt, count in counts.items())


def _print_unreadable(library: Library) -> None:
    if library.cache_path is None:
        return
    with library_db.connect(library.cache_path) as db:
        found = library_db.unreadable(db)
    print(f"cannot be played or analysed: {formats_line({f: len(p) for f, p in found.items()})}")
    for paths in found.values():
        for path, why in paths:
            print(f"  {path}: {why}")


def _analysis(library: Library) -> dict[str, Analysis]:
    if library.cache_path is None or not library.cache_path.is_file():
        return {}
    try:
        with library_db.connect(library.cache_path) as db:
            return library_db.read_analysis(db)
    except sqlite3.Error:
        return {}


def track_rows(library: Library) -> list[dict[str, Any]]:
    """The `show --json` objects (docs/library.md): one per file, unanalysed ones with nulls."""
    analysis = _analysis(library)
    rows = []
    for track in library.all_tracks():
        a = analysis.get(str(track.path))
        fresh = a is not None and a.valence is not None and track.placed
        rows.append({
            "path": str(track.path), "category": track.category or None, "title": track.title,
            "artist": track.artist, "duration_s": round(track.duration_s, 2),
            "valence": a.valence if fresh and a else None,
            "arousal": a.arousal if fresh and a else None,
            "tempo_bpm": a.tempo_bpm if fresh and a else None,
            "loudness_db": a.loudness_db if fresh and a else None,
            "key": (a.key or None) if fresh and a else None,
            "mode": (a.mode or None) if fresh and a else None,
            "confidence": a.confidence if fresh and a else 0.0,
            "evidence": (a.evidence or None) if fresh and a else None,
            "error": (a.error or None) if a is not None and a.error else None,
            "loudness_lufs": track.loudness_lufs, "loudness_from": track.loudness_from or None,
        })  # fmt: skip
    return rows


def _print_json(library: Library) -> None:
    for row in track_rows(library):
        print(json.dumps(row, ensure_ascii=True))


def _print_show(library: Library, empty: list[str]) -> None:
    rows = track_rows(library)
    placed = sum(r["valence"] is not None for r in rows)
    print(f"{len(rows)} tracks, {placed} placed on the valence-arousal plane")
    print(category_folders(library.categories()))
    print(f"{'valence':>8} {'arousal':>8} {'bpm':>6} {'key':>8} {'conf':>5}  category / title")
    for r in rows:
        v, a = r["valence"], r["arousal"]
        where = f"{v:+8.2f} {a:+8.2f}" if v is not None else f"{'-':>8} {'-':>8}"
        bpm = f"{r['tempo_bpm']:6.1f}" if r["tempo_bpm"] else f"{'-':>6}"
        key = f"{r['key']} {r['mode'][:3]}" if r["key"] else "-"
        label = f"[{r['category']}] " if r["category"] else ""
        by = f" - {r['artist']}" if r["artist"] else ""
        note = f"  ({r['error']})" if r["error"] else ""
        print(f"{where} {bpm} {key:>8} {r['confidence']:5.2f}  {label}{r['title']}{by}{note}")
    if rows and not placed:
        print("none placed yet: `moodpi library scan` (or the daemon) analyses them;"
              " until then they play shuffled")  # fmt: skip
    if empty and library.categories():
        print(f"no tracks for mapped categories (they fall back): {', '.join(empty)}")


PLOT_SUFFIXES = (".png", ".svg", ".pdf")
PLOT_LIMIT = 1.18  # the plane is -1..1; the margin keeps a dot at +-1 whole, its name readable
LABELLED_MAX = 60  # more names than this cover the plane: an .svg names each dot on hover
Point = tuple[float, float]


def _plot(library: Library, music: MusicConfig, out: Path) -> int:
    if out.suffix.lower() not in PLOT_SUFFIXES:
        print(f"library plot: {out} must end in {', '.join(PLOT_SUFFIXES)}", file=sys.stderr)
        return 64
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("moodpi library plot needs matplotlib: pip install matplotlib"
              " (or the dev extra: pip install -e '.[dev]')", file=sys.stderr)  # fmt: skip
        return 69
    rows = [r for r in track_rows(library) if r["valence"] is not None]
    figure = plot_figure(rows, aims(music), music.policy)
    figure.savefig(out, dpi=120, bbox_inches="tight")
    if out.suffix.lower() == ".svg":
        add_hover_titles(out, [_dot_title(r) for r in rows])
    print(f"wrote {out} ({len(rows)} tracks)")
    return 0


def aims(music: MusicConfig) -> dict[Point, list[str]]:
    """Where the daemon aims each mood's music (music.policy's last target: where it settles),
    point -> the moods aimed there ('sad -> calming' where the category differs)."""
    where: dict[Point, list[str]] = {}
    for emotion in EMOTIONS:
        end = targets(music.policy, emotion, music)[-1]
        name = emotion if end.category == emotion else f"{emotion} \u2192 {end.category}"
        where.setdefault(end.point, []).append(name)
    return where


def plot_figure(rows: list[dict[str, Any]], aimed: dict[Point, list[str]], policy: str) -> Any:
    """Tracks on the valence-arousal plane (colour: mode, size: confidence), named when there
    are few; a star where each mood's music is aimed."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(8, 8))
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.add_patch(Rectangle((-1, -1), 2, 2, fill=False, color="lightgrey", lw=0.5))
    colours = {"major": "tab:orange", "minor": "tab:blue"}
    dots = ax.scatter(
        [r["valence"] for r in rows], [r["arousal"] for r in rows],
        s=[12 + 48 * r["confidence"] for r in rows],
        c=[colours.get(r["mode"] or "", "tab:grey") for r in rows], alpha=0.75,
    )  # fmt: skip
    dots.set_gid("tracks")
    if len(rows) <= LABELLED_MAX:
        for r in rows:
            ax.annotate(_short(r["title"]), (r["valence"], r["arousal"]), xytext=(4, 3),
                        textcoords="offset points", fontsize=6, color="dimgrey")  # fmt: skip
    for (valence, arousal), names in aimed.items():
        ax.scatter([valence], [arousal], marker="*", s=260, c="gold", edgecolors="black", zorder=3)
        ax.annotate("\n".join(names), (valence, arousal), xytext=(8, -4), fontsize=8,
                    textcoords="offset points", va="top", weight="bold")  # fmt: skip
    corner = PLOT_LIMIT - 0.02  # in the margin, clear of the dots at +-1
    for text, x, y, ha, va in (("tense", -1, 1, "left", "top"), ("happy", 1, 1, "right", "top"),
                               ("sad", -1, -1, "left", "bottom"),
                               ("calm", 1, -1, "right", "bottom")):  # fmt: skip
        ax.text(x * corner, y * corner, text, color="grey", ha=ha, va=va, style="italic")
    named = "names on hover in the .svg" if len(rows) > LABELLED_MAX else "named"
    ax.set(
        xlim=(-PLOT_LIMIT, PLOT_LIMIT), ylim=(-PLOT_LIMIT, PLOT_LIMIT), aspect="equal",
        xlabel="valence (unpleasant \u2192 pleasant)", ylabel="arousal (calm \u2192 excited)",
        title=f"{len(rows)} tracks ({named}; orange major, blue minor, size: confidence)\n"
              f"\u2605 where policy '{policy}' aims each mood's music",
    )  # fmt: skip
    return fig


def add_hover_titles(svg: Path, titles: list[str]) -> None:
    """A <title> on each dot of the tracks' group (matplotlib draws one element per dot, in
    order), which browsers show on hover."""
    from xml.etree import ElementTree as ET

    ns = "http://www.w3.org/2000/svg"
    ET.register_namespace("", ns)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    tree = ET.parse(svg)
    group = tree.getroot().find(f".//{{{ns}}}g[@id='tracks']")
    if group is None:
        return
    dots = [e for e in group.iter() if e.tag in (f"{{{ns}}}path", f"{{{ns}}}use")]
    if len(dots) != len(titles):  # not the drawing we know: leave it as it is
        return
    for dot, text in zip(dots, titles, strict=True):
        ET.SubElement(dot, f"{{{ns}}}title").text = text
    tree.write(svg, encoding="utf-8", xml_declaration=True)


def _dot_title(row: dict[str, Any]) -> str:
    by = f" - {row['artist']}" if row["artist"] else ""
    return f"{row['title']}{by} (valence {row['valence']:+.2f}, arousal {row['arousal']:+.2f})"


def _short(title: str, chars: int = 22) -> str:
    return title if len(title) <= chars else title[: chars - 1] + "\u2026"
