"""Playlists as a library layout: `<name>.m3u` / `.m3u8` files (a name the policies use, such as
`calming`, makes the playlist that category; moodpi.music.library.library decides), with paths
relative to the playlist (or file:// URLs); other URLs and missing files are skipped with one
line each."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)


def playlist_entries(folder: Path) -> tuple[list[tuple[str, str]], int]:
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
