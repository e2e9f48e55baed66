"""`moodpi library scan|show`: scan the music library, or list what it holds."""

from __future__ import annotations

import argparse
import json
import sys

from moodpi.music.library import Library, ScanReport, empty_mapped_categories, library_from_config


def cli_library(args: argparse.Namespace) -> int:
    from moodpi import config as config_module

    config = config_module.load(args.config)
    library = library_from_config(config)
    if not library.configured:
        print("no music library configured: set music.root or music.playlists", file=sys.stderr)
        return 0
    if args.action == "scan":
        report = library.scan()
        if args.json:
            print(json.dumps(report.as_dict(), indent=2))
        else:
            _print_scan(report)
    else:
        if library.load() == 0:
            library.scan()
        _print_show(library, empty_mapped_categories(config.music, library), args.json)
    return 0


def _print_scan(report: ScanReport) -> None:
    print(
        f"{report.tracks} tracks in {len(report.categories)} categories"
        f" (read {report.read}, cached {report.cached}, unreadable {report.unreadable},"
        f" removed {report.removed}, missing {report.missing}) in {report.elapsed_s:.2f} s"
    )
    for category, count in report.categories.items():
        print(f"  {category:<16} {count:>5}")


def _print_show(library: Library, empty: list[str], as_json: bool) -> None:
    categories = library.categories()
    if as_json:
        rows = [t.as_dict() for c in categories for t in library.tracks(c)]
        data = {"categories": categories, "tracks": rows, "empty_mapped_categories": empty}
        print(json.dumps(data, indent=2))
        return
    for category in categories:
        tracks = library.tracks(category)
        minutes = sum(t.duration_s for t in tracks) / 60
        print(f"{category} ({len(tracks)} tracks, {minutes:.1f} min)")
        for t in tracks:
            by = f" - {t.artist}" if t.artist else ""
            print(f"  {t.duration_s:7.1f} s  {t.title}{by}  [{t.path}]")
    if empty:
        print(f"no tracks for mapped categories (they fall back): {', '.join(empty)}")
