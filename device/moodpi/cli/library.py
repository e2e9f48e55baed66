"""`moodpi library scan|show|plot`: scan and analyse the music library, list it, or draw it.

`scan` reads new or changed files, then (unless `--no-analysis`) places every track not yet
analysed on the valence-arousal plane, in this process at nice 10, with a progress bar on a
terminal; interrupted (Ctrl-C, kill -9), the next scan resumes. `show --json` prints one JSON
object per track per line: a stable contract, documented in docs/library.md.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from moodpi.music.library import db as library_db
from moodpi.music.library.db import Analysis
from moodpi.music.library.library import (
    Library,
    ScanReport,
    empty_mapped_categories,
    library_from_config,
)


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
        return _plot(library, Path(args.file or "library.png"))
    if args.json:
        _print_json(library)
    else:
        _print_show(library, empty_mapped_categories(config.music, library))
    return 0


def _scan(library: Library, args: argparse.Namespace) -> int:
    report = library.scan()
    if not args.json:
        _print_scan(report)
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
              f" {done.cpu_s_per_track:.2f} s CPU per track")  # fmt: skip
    return 0


def _print_scan(report: ScanReport) -> None:
    print(
        f"{report.tracks} tracks in {len(report.categories)} categories"
        f" (read {report.read}, cached {report.cached}, unreadable {report.unreadable},"
        f" removed {report.removed}, missing {report.missing}) in {report.elapsed_s:.2f} s"
    )
    for category, count in report.categories.items():
        print(f"  {category:<16} {count:>5}")
    if report.unreadable_files:
        print(f"unreadable: {formats_line(report.unreadable_formats)}")
        for path, why in report.unreadable_files.items():
            print(f"  {path}: {why}")


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
    if empty:
        print(f"no tracks for mapped categories (they fall back): {', '.join(empty)}")


def _plot(library: Library, out: Path) -> int:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("moodpi library plot needs matplotlib: pip install matplotlib"
              " (or the dev extra: pip install -e '.[dev]')", file=sys.stderr)  # fmt: skip
        return 69
    rows = [r for r in track_rows(library) if r["valence"] is not None]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    sizes = [10 + 40 * r["confidence"] for r in rows]
    colours = ["tab:blue" if r["mode"] == "minor" else "tab:orange" for r in rows]
    ax.scatter([r["valence"] for r in rows], [r["arousal"] for r in rows], s=sizes, c=colours,
               alpha=0.7)  # fmt: skip
    for text, x, y in (("tense", -0.95, 0.95), ("happy", 0.6, 0.95), ("sad", -0.95, -0.95),
                       ("calm", 0.6, -0.95)):  # fmt: skip
        ax.text(x, y, text, color="grey")
    ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="valence", ylabel="arousal",
           title=f"{len(rows)} tracks (orange: major, blue: minor; size: confidence)")  # fmt: skip
    fig.savefig(out, dpi=100, bbox_inches="tight")
    print(f"wrote {out} ({len(rows)} tracks)")
    return 0
