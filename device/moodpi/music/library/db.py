"""The library's SQLite cache: files and their tags (the scan), entries (category → file), the
analysis of each file's audio (the analyser's process) and the analyser's progress.

Paths are stored as the file system's bytes (`os.fsencode`), never as text: a file name that is
not UTF-8 (`caf\\xe9.wav` from a Windows share) is as good a key as any other, and decodes back
to the same `str` with Python's surrogateescape (issue 18: as text it failed the whole save).

Two processes write here: the daemon's scan (files, entries) and the analyser (analysis,
progress), one row per transaction, in WAL mode with a busy timeout, so either may be killed at
any moment and the other goes on. Analysis rows are keyed by path with the size and mtime they
were made from: a changed file is analysed again, a removed one is forgotten.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path

SCHEMA_VERSION = 3


@dataclass(frozen=True)
class FileMeta:
    mtime_ns: int
    size: int
    duration_s: float
    title: str
    artist: str
    error: str  # empty: readable
    tag_lufs: float | None = None  # loudness by its ReplayGain (or R128) tag; None: untagged


@dataclass(frozen=True)
class Analysis:
    """Where one file's audio sits on the valence-arousal plane, and what it was read from."""

    mtime_ns: int
    size: int
    valence: float | None  # -1..1; None when the file could not be analysed (see error)
    arousal: float | None
    tempo_bpm: float | None
    loudness_db: float | None
    key: str  # "C" .. "B", empty when unknown
    mode: str  # "major" | "minor" | ""
    confidence: float  # 0..1
    evidence: str  # "audio", "audio+genre", "audio+tags", ...; empty on error
    model: str  # which calibration placed it
    error: str  # empty: analysed
    analysed_at: float  # wall clock
    loudness_lufs: float | None = None  # integrated loudness (ITU-R BS.1770) of the excerpt


@dataclass(frozen=True)
class Progress:
    """The analyser's last report: `done` of `total` files that need analysis in this run."""

    pid: int
    started_at: float
    updated_at: float
    total: int
    done: int
    failed: int
    finished: bool


_SCHEMA = """
DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS entries;
DROP TABLE IF EXISTS analysis; DROP TABLE IF EXISTS progress;
CREATE TABLE files (path BLOB PRIMARY KEY, mtime_ns INTEGER, size INTEGER, duration_s REAL,
  title TEXT, artist TEXT, error TEXT, tag_lufs REAL);
CREATE TABLE entries (category TEXT, path BLOB);
CREATE TABLE analysis (path BLOB PRIMARY KEY, mtime_ns INTEGER, size INTEGER, valence REAL,
  arousal REAL, tempo_bpm REAL, loudness_db REAL, key TEXT, mode TEXT, confidence REAL,
  evidence TEXT, model TEXT, error TEXT, analysed_at REAL, loudness_lufs REAL);
CREATE TABLE progress (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, started_at REAL,
  updated_at REAL, total INTEGER, done INTEGER, failed INTEGER, finished INTEGER);
"""
# Version 2 → 3 keeps every row: the new columns start empty, every file is read again at the
# next scan (mtime_ns -1: changed; for its ReplayGain tags) and analysed again for its loudness.
_MIGRATIONS = {
    2: "ALTER TABLE files ADD COLUMN tag_lufs REAL; UPDATE files SET mtime_ns = -1;"
    " ALTER TABLE analysis ADD COLUMN loudness_lufs REAL;",
}


def key(path: str | Path) -> bytes:
    return os.fsencode(path)


def text(value: object) -> object:
    """A text column's value: a str that came from undecodable bytes (a file name as a title, an
    error message quoting it) gets U+FFFD for each bad byte instead of failing the write."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def unkey(blob: bytes | str) -> str:
    return blob if isinstance(blob, str) else os.fsdecode(blob)


@contextlib.contextmanager
def connect(path: Path, *, timeout_s: float = 10.0) -> Iterator[sqlite3.Connection]:
    """The cache, schema created; committed on success and always closed."""
    db = sqlite3.connect(path, timeout=timeout_s)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            _upgrade(db)
        with db:
            yield db
    finally:
        db.close()


def _upgrade(db: sqlite3.Connection) -> None:
    """Migrate (or create) the schema in one transaction; a second process waits, then finds
    the work done."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            for statement in (_MIGRATIONS.get(version) or _SCHEMA).split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.commit()
    except BaseException:
        db.rollback()
        raise


def read_files(db: sqlite3.Connection) -> dict[str, FileMeta]:
    return {unkey(p): FileMeta(*m) for p, *m in db.execute("SELECT * FROM files")}


def read_entries(db: sqlite3.Connection) -> list[tuple[str, str]]:
    return [(c, unkey(p)) for c, p in db.execute("SELECT category, path FROM entries")]


def write_scan(
    db: sqlite3.Connection, metas: dict[str, FileMeta], entries: Iterable[tuple[str, str]]
) -> None:
    """Replace the scan's tables; analysis rows of files that are gone are dropped too."""
    db.execute("DELETE FROM files")
    db.execute("DELETE FROM entries")
    db.executemany(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(key(p), *map(text, astuple(m))) for p, m in metas.items()],
    )
    db.executemany("INSERT INTO entries VALUES (?, ?)", [(text(c), key(p)) for c, p in entries])
    db.execute("DELETE FROM analysis WHERE path NOT IN (SELECT path FROM files)")


def read_analysis(db: sqlite3.Connection) -> dict[str, Analysis]:
    columns = ", ".join(f.name for f in fields(Analysis))
    rows = db.execute(f"SELECT path, {columns} FROM analysis")
    return {unkey(p): Analysis(*a) for p, *a in rows}


def write_analysis(db: sqlite3.Connection, path: str, analysis: Analysis) -> None:
    marks = ", ".join("?" * (len(fields(Analysis)) + 1))
    row = (key(path), *map(text, astuple(analysis)))
    db.execute(f"INSERT OR REPLACE INTO analysis VALUES ({marks})", row)


def pending(db: sqlite3.Connection, model: str) -> list[tuple[str, FileMeta]]:
    """Readable files with no analysis for their current size and mtime (or by an older model,
    or from before loudness was measured)."""
    rows = db.execute(
        "SELECT f.path, f.mtime_ns, f.size, f.duration_s, f.title, f.artist, f.error, f.tag_lufs"
        " FROM files f LEFT JOIN analysis a ON a.path = f.path AND a.mtime_ns = f.mtime_ns"
        " AND a.size = f.size AND ((a.model = ? AND a.loudness_lufs IS NOT NULL) OR a.error != '')"
        " WHERE f.error = '' AND a.path IS NULL ORDER BY f.path",
        (model,),
    )
    return [(unkey(p), FileMeta(*m)) for p, *m in rows]


def write_progress(db: sqlite3.Connection, progress: Progress) -> None:
    db.execute("INSERT OR REPLACE INTO progress VALUES (1, ?, ?, ?, ?, ?, ?, ?)", astuple(progress))


def read_progress(db: sqlite3.Connection) -> Progress | None:
    row = db.execute("SELECT pid, started_at, updated_at, total, done, failed, finished"
                     " FROM progress WHERE id = 1").fetchone()  # fmt: skip
    if row is None:
        return None
    pid, started_at, updated_at, total, done, failed, finished = row
    return Progress(pid, started_at, updated_at, total, done, failed, bool(finished))


@dataclass(frozen=True)
class Coverage:
    """How much of the library is placed: for `moodpi status`, the snapshot and MQTT."""

    tracks: int  # readable files
    analysed: int  # placed on the plane for their current contents
    failed: int  # could not be decoded or analysed
    running: bool  # an analyser reported within the last minute and has not finished
    eta_s: float | None
    # Files that cannot be played or analysed, per format ("m4p": 2), and a few of them by path.
    unreadable: dict[str, int] = field(default_factory=dict)
    unreadable_files: dict[str, list[str]] = field(default_factory=dict)


def coverage(cache_path: Path, now_s: float | None = None) -> Coverage | None:
    """None without a cache, or when it cannot be read (another version, a broken file)."""
    if not cache_path.is_file():
        return None
    now_s = time.time() if now_s is None else now_s
    try:
        with connect(cache_path, timeout_s=1.0) as db:
            tracks = db.execute("SELECT COUNT(*) FROM files WHERE error = ''").fetchone()[0]
            done, failed = db.execute(
                "SELECT COALESCE(SUM(a.error = ''), 0), COALESCE(SUM(a.error != ''), 0)"
                " FROM analysis a JOIN files f ON a.path = f.path"
                " AND a.mtime_ns = f.mtime_ns AND a.size = f.size"
            ).fetchone()
            progress = read_progress(db)
            bad = unreadable(db)
    except sqlite3.Error:
        return None
    running = progress is not None and not progress.finished and now_s - progress.updated_at < 60.0
    eta = _eta(progress) if running and progress is not None else None
    counts = {fmt: len(paths) for fmt, paths in bad.items()}
    named = {fmt: [path for path, _ in paths[:NAMED_PER_FORMAT]] for fmt, paths in bad.items()}
    return Coverage(int(tracks), int(done), int(failed), running, eta, counts, named)


NAMED_PER_FORMAT = 3


def unreadable(db: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    """Files the scan or the analyser could not read, by format: {"m4p": [(path, why), ...]}."""
    rows = db.execute(
        "SELECT path, error FROM files WHERE error != ''"
        " UNION SELECT a.path, a.error FROM analysis a JOIN files f ON a.path = f.path"
        " AND a.mtime_ns = f.mtime_ns AND a.size = f.size WHERE a.error != '' ORDER BY 1"
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for blob, error in rows:
        path = unkey(blob)
        found.setdefault(Path(path).suffix.lower().lstrip(".") or "?", []).append((path, error))
    return dict(sorted(found.items()))


def _eta(progress: Progress) -> float | None:
    if progress.done <= 0:
        return None
    rate = progress.done / max(progress.updated_at - progress.started_at, 1e-3)
    return round((progress.total - progress.done) / rate, 1)
