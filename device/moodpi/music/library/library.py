"""The music library: scan, cache, and the tracks of each category.

Library layout: any folder of music under `music.root` (searched recursively; mp3, ogg, opus,
flac, wav, aiff, m4a and the other formats of moodpi.music.library.formats): flat,
`Artist/Album/NN Track`, anything. Every track is placed on the valence-arousal plane by the
analysis of its audio. A top-level folder named after a category the policies ask for ("sad",
"calming", ...: moodpi.music.policy.policy_categories) is the user's explicit choice and wins
over the analysis; any other folder ("Adele", "Jazz") and the files at the top are just music
(category UNSORTED). When `music.playlists` is set, its `<name>.m3u` / `.m3u8` files (paths
relative to the playlist) instead, by the same rule.

Scanning is incremental: a SQLite cache keyed by path remembers each file's mtime and size with
the duration and tags mutagen read; a rescan only opens new or changed files. Unreadable files
are skipped with one log line each and counted; they stay in the cache (as bad) so an unchanged
bad file is not re-read either (moodpi.music.library.probe reads them); files of a format that
does not play (.m4p, .mid, ...) are listed the same way, so that a scan names them. The analyser
(moodpi.music.analysis, its own process) writes each file's place on the valence-arousal plane
into the same cache; `load` and `scan` attach it to the tracks. The daemon never imports it.

The mood → music policies that draw from it are in moodpi.music.policy; `moodpi library` in
moodpi.cli.library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from moodpi.config import Config, MusicConfig
from moodpi.music.library import db as cache
from moodpi.music.library.db import Analysis, FileMeta
from moodpi.music.library.formats import LISTED_SUFFIXES, suffix
from moodpi.music.library.playlists import playlist_entries
from moodpi.music.library.probe import probe
from moodpi.music.policy import policy_categories
from moodpi.music.track import UNSORTED, Track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanReport:
    tracks: int  # playable tracks, unsorted ones too (a file in two categories counts twice)
    categories: dict[str, int]  # category folders or playlists: names the policies use
    read: int  # files opened and parsed in this scan (new or changed)
    cached: int  # unchanged files taken from the cache without opening them
    unreadable: int  # files skipped: not audio, corrupt, empty, unsupported type
    removed: int  # files the cache knew that are gone
    missing: int  # playlist entries pointing at nothing
    elapsed_s: float
    complete: bool = True  # False: stopped early by stop_event; the rest comes from the cache
    placed: int = 0  # files the analysis has placed on the valence-arousal plane
    unreadable_formats: dict[str, int] = field(default_factory=dict)  # {"m4p": 2}
    unreadable_files: dict[str, str] = field(default_factory=dict)  # path: why

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Library:
    def __init__(
        self,
        root: Path | None,
        playlists_dir: Path | None = None,
        cache_path: Path | None = None,
        *,
        category_names: Collection[str] | None = None,
        writes_cache: bool = True,
    ) -> None:
        self.root = Path(root) if root else None
        self.playlists_dir = Path(playlists_dir) if playlists_dir else None
        self.cache_path = Path(cache_path) if cache_path else None
        # Folders and playlists of other names are just music; None: the default config's names.
        self.category_names = frozenset(
            policy_categories(MusicConfig()) if category_names is None else category_names
        )
        self._writes_cache = writes_cache
        self._memory: dict[str, FileMeta] = {}  # the cache when there is no cache file
        self._tracks: dict[str, list[Track]] = {}
        self._placed: list[Track] = []  # every analysed track, each file once

    @classmethod
    def from_tracks(cls, tracks: list[Track]) -> Library:
        """A library of known tracks, nothing scanned (tests, replays)."""
        library = cls(None)
        library._set_tracks(tracks)
        return library

    def _set_tracks(self, tracks: list[Track]) -> None:
        by_category: dict[str, list[Track]] = {}
        placed: dict[Path, Track] = {}
        for track in tracks:
            by_category.setdefault(track.category, []).append(track)
            if track.placed:
                placed.setdefault(track.path, track)
        self._tracks, self._placed = by_category, list(placed.values())

    def read_only(self) -> Library:
        """The same library, reading the cache (scan and analysis) but never writing it: for a
        command that must not touch the daemon's state (doctor, classify)."""
        return Library(
            self.root, self.playlists_dir, self.cache_path,
            category_names=self.category_names, writes_cache=False,
        )  # fmt: skip

    @property
    def configured(self) -> bool:
        return self.root is not None or self.playlists_dir is not None

    def tracks(self, category: str) -> list[Track]:
        return list(self._tracks.get(category.lower(), ()))

    def categories(self) -> dict[str, int]:
        """Named categories and their sizes; the unsorted files at the top are not one."""
        return {c: len(t) for c, t in sorted(self._tracks.items()) if t and c != UNSORTED}

    def all_tracks(self) -> list[Track]:
        """Every playable track, each file once (a file in two playlists: its first entry)."""
        seen: dict[Path, Track] = {}
        for _, tracks in sorted(self._tracks.items()):
            for track in tracks:
                seen.setdefault(track.path, track)
        return list(seen.values())

    def placed_tracks(self) -> list[Track]:
        """The tracks the analysis has placed on the valence-arousal plane."""
        return list(self._placed)

    def scan(self, stop_event: threading.Event | None = None) -> ScanReport:
        """Find the library's files, read the new or changed ones, update the cache.

        May run in a thread of its own: `tracks()` sees the old library until the new one is
        complete. A set `stop_event` ends the scan between two files; what was read is kept.
        A library folder that is gone (a disk not mounted yet) leaves nothing to play and the
        cache as it was, so its analysis is still there when the folder comes back.
        """
        started = time.monotonic()
        gone = self.folder_gone()
        entries, missing = self._entries()
        known = self._load_cache()
        metas: dict[str, FileMeta] = {}
        read = 0
        bad: dict[str, str] = {}
        complete = True
        for path in sorted({p for _, p in entries}):
            if stop_event is not None and stop_event.is_set():
                log.info("library scan stopped early; unread files keep their cached data")
                complete = False
                metas = {**known, **metas}
                break
            meta = self._meta(path, known.get(path))
            if meta is None:
                missing += 1
                continue
            read += meta is not known.get(path)
            metas[path] = meta
            if meta.error:
                bad[path] = meta.error
                log.warning("skipping unreadable file %s: %s", path, meta.error)
        removed = len(set(known) - set(metas)) if complete and not gone else 0
        if not gone:
            self._save_cache(metas, entries)
        self._set_tracks(self._build(entries, metas, self._load_analysis()))
        report = ScanReport(
            tracks=self._entry_count(),
            categories=self.categories(),
            read=read,
            cached=len(metas) - read,
            unreadable=len(bad),
            removed=removed,
            missing=missing,
            elapsed_s=round(time.monotonic() - started, 3),
            complete=complete,
            placed=len(self._placed),
            unreadable_formats=dict(sorted(Counter(suffix(p).lstrip(".") for p in bad).items())),
            unreadable_files=bad,
        )
        log.info(
            "library: %d tracks, %d placed, %d category folders (read %d, cached %d, bad %d)",
            report.tracks, report.placed, len(report.categories), read, report.cached, len(bad),
        )  # fmt: skip
        return report

    def load(self) -> int:
        """The last scan's tracks from the cache, without touching the files (the library folder
        aside: gone, nothing is served); returns the count."""
        if self.folder_gone():
            self._set_tracks([])
            return 0
        if self.cache_path is None or not self.cache_path.is_file():
            return 0
        try:
            with cache.connect(self.cache_path) as db:
                rows = cache.read_entries(db)
                metas = cache.read_files(db)
                analysis = cache.read_analysis(db)
        except sqlite3.Error as exc:
            log.warning("cannot read library cache %s: %s", self.cache_path, exc)
            return 0
        self._set_tracks(self._build(rows, metas, analysis))
        return self._entry_count()

    def _build(
        self, entries: list[tuple[str, str]], metas: Mapping[str, FileMeta],
        analysis: Mapping[str, Analysis],
    ) -> list[Track]:  # fmt: skip
        """The tracks, a folder or playlist not named after a category being just music."""
        names = self.category_names
        sorted_entries = dict.fromkeys((c if c in names else UNSORTED, p) for c, p in entries)
        return _build_tracks(list(sorted_entries), metas, analysis)

    def _entry_count(self) -> int:
        return sum(len(tracks) for tracks in self._tracks.values())

    def _load_analysis(self) -> dict[str, Analysis]:
        if self.cache_path is None or not self.cache_path.is_file():
            return {}
        try:
            with cache.connect(self.cache_path) as db:
                return cache.read_analysis(db)
        except sqlite3.Error as exc:
            log.warning("cannot read the analysis in %s: %s", self.cache_path, exc)
            return {}

    # -- finding files ------------------------------------------------------------------------

    def folder_gone(self) -> bool:
        """The configured library folder (playlists, else root) is not a folder right now."""
        folder = self.playlists_dir or self.root
        return folder is not None and not folder.is_dir()

    def _entries(self) -> tuple[list[tuple[str, str]], int]:
        if self.playlists_dir is not None:
            return playlist_entries(self.playlists_dir)
        if self.root is not None:
            return _folder_entries(self.root), 0
        return [], 0

    def _meta(self, path: str, cached: FileMeta | None) -> FileMeta | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        if cached is not None and (cached.mtime_ns, cached.size) == (st.st_mtime_ns, st.st_size):
            return cached
        return probe(Path(path), st.st_mtime_ns, st.st_size)

    # -- cache --------------------------------------------------------------------------------

    def _load_cache(self) -> dict[str, FileMeta]:
        if self.cache_path is None or not self.cache_path.is_file():
            return dict(self._memory)
        try:
            with cache.connect(self.cache_path) as db:
                return cache.read_files(db)
        except sqlite3.Error as exc:
            # Derived data only: start afresh rather than fail, and keep the bad file for a look.
            log.warning("library cache %s unusable (%s); rebuilding it", self.cache_path, exc)
            if self._writes_cache:
                with contextlib.suppress(OSError):
                    self.cache_path.replace(self.cache_path.with_suffix(".corrupt"))
            return {}

    def _save_cache(self, metas: dict[str, FileMeta], entries: list[tuple[str, str]]) -> None:
        self._memory = dict(metas)
        if self.cache_path is None or not self._writes_cache:
            return
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with cache.connect(self.cache_path) as db:
                cache.write_scan(db, metas, entries)
        except (OSError, sqlite3.Error, ValueError) as exc:
            log.warning("cannot write library cache %s: %s", self.cache_path, exc)


def _folder_entries(root: Path) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    if not root.is_dir():
        log.warning("music root %s is not a folder", root)
        return []
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            entries.extend((child.name.lower(), str(path)) for path in _audio_files(child))
        elif child.suffix.lower() in LISTED_SUFFIXES:
            entries.append((UNSORTED, str(child)))
    return entries


def _audio_files(folder: Path) -> Iterator[Path]:
    # os.walk does not follow symlinked sub-folders: a link loop cannot hang the scan.
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in LISTED_SUFFIXES:
                yield Path(dirpath) / name


def _build_tracks(
    entries: list[tuple[str, str]],
    metas: Mapping[str, FileMeta],
    analysis: Mapping[str, Analysis] | None = None,
) -> list[Track]:
    tracks = []
    analysis = analysis or {}
    for category, path in entries:
        meta = metas.get(path)
        if meta is None or meta.error:
            continue
        track = Track(
            Path(path),
            category,
            meta.duration_s,
            meta.title,
            meta.artist,
            loudness_lufs=meta.tag_lufs,
            loudness_from="" if meta.tag_lufs is None else "tag",
        )
        placed = analysis.get(path)
        if placed is not None and _fits(placed, meta):
            track = replace(
                track, valence=placed.valence, arousal=placed.arousal,
                confidence=placed.confidence,
            )  # fmt: skip
        if track.loudness_lufs is None and placed is not None and _measured(placed, meta):
            track = replace(track, loudness_lufs=placed.loudness_lufs, loudness_from="measured")
        tracks.append(track)
    return tracks


def _fits(analysis: Analysis, meta: FileMeta) -> bool:
    """The analysis is of this file as it is now, and placed it."""
    same = (analysis.mtime_ns, analysis.size) == (meta.mtime_ns, meta.size)
    return same and analysis.valence is not None and analysis.arousal is not None


def _measured(analysis: Analysis, meta: FileMeta) -> bool:
    same = (analysis.mtime_ns, analysis.size) == (meta.mtime_ns, meta.size)
    return same and analysis.loudness_lufs is not None


def library_from_config(config: Config) -> Library:
    music = config.music
    return Library(
        Path(music.root) if music.root else None,
        Path(music.playlists) if music.playlists else None,
        config.state_path / "library.sqlite3",
        category_names=policy_categories(music),
    )
