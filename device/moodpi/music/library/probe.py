"""One audio file's duration and tags, read with mutagen (a scan opens only new or changed ones)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import mutagen

from moodpi.music.library.db import FileMeta

AUDIO_SUFFIXES = frozenset({".mp3", ".ogg", ".flac", ".wav"})


def probe(path: Path, mtime_ns: int, size: int) -> FileMeta:
    """Read duration and tags; a file that cannot be read gets a FileMeta with `error` set."""
    bad = FileMeta(mtime_ns, size, 0.0, "", "", "")
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
    return FileMeta(mtime_ns, size, float(length), title, _tag(tags, "artist", "TPE1"), "")


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
