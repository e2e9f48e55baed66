"""The music library: scan, cache, and the tracks of each category.

Library layout: one folder per category under `music.root` (files .mp3 .ogg .flac .wav, searched
recursively), or, when `music.playlists` is set, one `<category>.m3u` / `.m3u8` per category with
paths relative to the playlist. Category names are lower-cased.

Scanning is incremental: a SQLite cache keyed by path remembers each file's mtime and size with
the duration and tags mutagen read; a rescan only opens new or changed files. Unreadable files
are skipped with one log line each and counted; they stay in the cache (as bad) so an unchanged
bad file is not re-read either.

The mood → music policies that draw from it are in moodpi.policy; `moodpi library` in
moodpi.library_cli.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import mutagen

from moodpi.config import Config, MusicConfig

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset({".mp3", ".ogg", ".flac", ".wav"})
_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Track:
    path: Path
    category: str
    duration_s: float
    title: str
    artist: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


@dataclass(frozen=True)
class ScanReport:
    tracks: int  # playable tracks (a file listed in two categories counts twice)
    categories: dict[str, int]
    read: int  # files opened and parsed in this scan (new or changed)
    cached: int  # unchanged files taken from the cache without opening them
    unreadable: int  # files skipped: not audio, corrupt, empty, unsupported type
    removed: int  # files the cache knew that are gone
    missing: int  # playlist entries pointing at nothing
    elapsed_s: float
    complete: bool = True  # False: stopped early by stop_event; the rest comes from the cache

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Meta:
    mtime_ns: int
    size: int
    duration_s: float
    title: str
    artist: str
    error: str  # empty: readable


class TrackSource(Protocol):
    """What the policies need from a library."""

    def tracks(self, category: str) -> list[Track]: ...

    def categories(self) -> dict[str, int]: ...


class Library:
    def __init__(
        self, root: Path | None, playlists_dir: Path | None = None, cache_path: Path | None = None
    ) -> None:
        self.root = Path(root) if root else None
        self.playlists_dir = Path(playlists_dir) if playlists_dir else None
        self.cache_path = Path(cache_path) if cache_path else None
        self._memory: dict[str, _Meta] = {}  # the cache when there is no cache file
        self._tracks: dict[str, list[Track]] = {}

    @classmethod
    def from_tracks(cls, tracks: list[Track]) -> Library:
        """A library of known tracks, nothing scanned (tests, replays)."""
        library = cls(None)
        for track in tracks:
            library._tracks.setdefault(track.category, []).append(track)
        return library

    @property
    def configured(self) -> bool:
        return self.root is not None or self.playlists_dir is not None

    def tracks(self, category: str) -> list[Track]:
        return list(self._tracks.get(category.lower(), ()))

    def categories(self) -> dict[str, int]:
        return {c: len(t) for c, t in sorted(self._tracks.items()) if t}

    def scan(self, stop_event: threading.Event | None = None) -> ScanReport:
        """Find the library's files, read the new or changed ones, update the cache.

        May run in a thread of its own: `tracks()` sees the old library until the new one is
        complete. A set `stop_event` ends the scan between two files; what was read is kept.
        """
        started = time.monotonic()
        entries, missing = self._entries()
        known = self._load_cache()
        metas: dict[str, _Meta] = {}
        read = unreadable = 0
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
                unreadable += 1
                log.warning("skipping unreadable file %s: %s", path, meta.error)
        removed = len(set(known) - set(metas)) if complete else 0
        self._save_cache(metas, entries)
        self._tracks = _build_tracks(entries, metas)
        report = ScanReport(
            tracks=sum(self.categories().values()),
            categories=self.categories(),
            read=read,
            cached=len(metas) - read,
            unreadable=unreadable,
            removed=removed,
            missing=missing,
            elapsed_s=round(time.monotonic() - started, 3),
            complete=complete,
        )
        log.info(
            "library: %d tracks in %d categories (read %d, cached %d, unreadable %d)",
            report.tracks, len(report.categories), read, report.cached, unreadable,
        )  # fmt: skip
        return report

    def load(self) -> int:
        """The last scan's tracks from the cache, without touching the files; returns the count."""
        if self.cache_path is None or not self.cache_path.is_file():
            return 0
        try:
            with _connect(self.cache_path) as db:
                rows = db.execute("SELECT category, path FROM entries").fetchall()
                metas = {p: _Meta(*m) for p, *m in db.execute("SELECT * FROM files")}
        except sqlite3.Error as exc:
            log.warning("cannot read library cache %s: %s", self.cache_path, exc)
            return 0
        self._tracks = _build_tracks(rows, metas)
        return sum(self.categories().values())

    # -- finding files ------------------------------------------------------------------------

    def _entries(self) -> tuple[list[tuple[str, str]], int]:
        if self.playlists_dir is not None:
            return _playlist_entries(self.playlists_dir)
        if self.root is not None:
            return _folder_entries(self.root), 0
        return [], 0

    def _meta(self, path: str, cached: _Meta | None) -> _Meta | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        if cached is not None and (cached.mtime_ns, cached.size) == (st.st_mtime_ns, st.st_size):
            return cached
        return _probe(Path(path), st.st_mtime_ns, st.st_size)

    # -- cache --------------------------------------------------------------------------------

    def _load_cache(self) -> dict[str, _Meta]:
        if self.cache_path is None or not self.cache_path.is_file():
            return dict(self._memory)
        try:
            with _connect(self.cache_path) as db:
                return {p: _Meta(*m) for p, *m in db.execute("SELECT * FROM files")}
        except sqlite3.Error as exc:
            # Derived data only: start afresh rather than fail, and keep the bad file for a look.
            log.warning("library cache %s unusable (%s); rebuilding it", self.cache_path, exc)
            with contextlib.suppress(OSError):
                self.cache_path.replace(self.cache_path.with_suffix(".corrupt"))
            return {}

    def _save_cache(self, metas: dict[str, _Meta], entries: list[tuple[str, str]]) -> None:
        self._memory = dict(metas)
        if self.cache_path is None:
            return
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with _connect(self.cache_path) as db:
                db.execute("DELETE FROM files")
                db.execute("DELETE FROM entries")
                db.executemany(
                    "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(p, *asdict(m).values()) for p, m in metas.items()],
                )
                db.executemany("INSERT INTO entries VALUES (?, ?)", entries)
        except (OSError, sqlite3.Error) as exc:
            log.warning("cannot write library cache %s: %s", self.cache_path, exc)


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    """The cache, schema created; committed on success and always closed."""
    db = sqlite3.connect(path, timeout=5.0)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
            db.executescript(
                "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS entries;"
                "CREATE TABLE files (path TEXT PRIMARY KEY, mtime_ns INTEGER, size INTEGER,"
                " duration_s REAL, title TEXT, artist TEXT, error TEXT);"
                "CREATE TABLE entries (category TEXT, path TEXT);"
                f"PRAGMA user_version={_SCHEMA_VERSION};"
            )
        with db:
            yield db
    finally:
        db.close()


def _folder_entries(root: Path) -> list[tuple[str, str]]:
    entries = []
    if not root.is_dir():
        log.warning("music root %s is not a folder", root)
        return []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in _audio_files(folder):
            entries.append((folder.name.lower(), str(path)))
    return entries


def _audio_files(folder: Path) -> Iterator[Path]:
    # os.walk does not follow symlinked sub-folders: a link loop cannot hang the scan.
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_SUFFIXES:
                yield Path(dirpath) / name


def _playlist_entries(folder: Path) -> tuple[list[tuple[str, str]], int]:
    entries: list[tuple[str, str]] = []
    missing = 0
    if not folder.is_dir():
        log.warning("playlists folder %s is not a folder", folder)
        return [], 0
    for playlist in sorted(folder.glob("*.m3u*")):
        if playlist.suffix.lower() not in (".m3u", ".m3u8"):
            continue
        for line in _read_text(playlist).splitlines():
            path = _playlist_path(playlist, line.strip())
            if path is None:
                continue
            if not path.is_file():
                log.warning("playlist %s: no such file %s", playlist.name, path)
                missing += 1
                continue
            entries.append((playlist.stem.lower(), str(path)))
    return entries, missing


def _playlist_path(playlist: Path, line: str) -> Path | None:
    if not line or line.startswith("#"):
        return None
    if "://" in line:
        url = urlparse(line)
        if url.scheme != "file":
            log.warning("playlist %s: only local files are played, not %s", playlist.name, line)
            return None
        line = unquote(url.path)
    path = Path(line)
    return path if path.is_absolute() else (playlist.parent / path).resolve()


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # classic .m3u files are often in a legacy encoding


def _probe(path: Path, mtime_ns: int, size: int) -> _Meta:
    """Read duration and tags; a file that cannot be read gets a _Meta with `error` set."""
    bad = _Meta(mtime_ns, size, 0.0, "", "", "")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        return replace(bad, error="unsupported file type")
    if size == 0:
        return replace(bad, error="empty file")
    try:
        audio = mutagen.File(path, easy=True)
    except Exception as exc:  # mutagen raises many types for broken files
        return replace(bad, error=f"{type(exc).__name__}: {exc}")
    length = getattr(getattr(audio, "info", None), "length", 0.0) or 0.0
    if audio is None or not length > 0:
        return replace(bad, error="not a recognised audio stream")
    tags = audio.tags or {}
    title = _tag(tags, "title", "TIT2") or path.stem
    return _Meta(mtime_ns, size, float(length), title, _tag(tags, "artist", "TPE1"), "")


def _tag(tags: Any, *keys: str) -> str:
    for key in keys:
        try:
            value = tags.get(key) if hasattr(tags, "get") else None
        except Exception:
            value = None
        if value:
            text = value[0] if isinstance(value, list) else getattr(value, "text", [value])[0]
            return str(text).strip()
    return ""


def _build_tracks(
    entries: list[tuple[str, str]], metas: Mapping[str, _Meta]
) -> dict[str, list[Track]]:
    tracks: dict[str, list[Track]] = {}
    for category, path in entries:
        meta = metas.get(path)
        if meta is not None and not meta.error:
            track = Track(Path(path), category, meta.duration_s, meta.title, meta.artist)
            tracks.setdefault(category, []).append(track)
    return tracks


def library_from_config(config: Config) -> Library:
    music = config.music
    return Library(
        Path(music.root) if music.root else None,
        Path(music.playlists) if music.playlists else None,
        config.state_path / "library.sqlite3",
    )


def empty_mapped_categories(music: MusicConfig, library: TrackSource) -> list[str]:
    """Categories the maps name that have no tracks (they will fall back)."""
    have = library.categories()
    named = set(music.mirror_map.values()) | set(music.uplift_map.values())
    return sorted(c for c in named if c not in have)
