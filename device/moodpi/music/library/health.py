"""What is wrong with the music library, in words a household can act on.

`library_problem` is the one judgement of "nothing to play" that the daemon (an `error` event
and Home Assistant's "Music library" problem sensor, moodpi.music.library.watcher) and
`moodpi doctor` share: the folder is missing (a disk not mounted yet), is not a folder, or
holds no playable music. `empty_mapped_categories` says which categories will fall back.
"""

from __future__ import annotations

import os

from moodpi.config import MusicConfig
from moodpi.music.library.library import Library
from moodpi.music.track import TrackSource


def library_problem(library: Library, tracks: int) -> str | None:
    """Why `library`, scanned to `tracks` playable tracks, plays nothing; None when it plays (or
    no library is configured: that is a choice, not a fault)."""
    key, folder = "music.root", library.root
    if library.playlists_dir is not None:
        key, folder = "music.playlists", library.playlists_dir
    if folder is None:
        return None
    if not folder.exists():
        return f"{key} {folder} does not exist (a disk not mounted?): no music"
    if not folder.is_dir():
        return f"{key} {folder} is not a folder: no music"
    if not os.access(folder, os.R_OK | os.X_OK):
        return f"{key} {folder} cannot be read by this user: no music"
    if tracks == 0:
        return f"{key} {folder} holds no playable music"
    return None


def empty_mapped_categories(music: MusicConfig, library: TrackSource) -> list[str]:
    """Categories the maps name that have no tracks (they will fall back); none while the
    analysis has placed tracks, which then stand in for every category."""
    if library.placed_tracks():
        return []
    have = library.categories()
    named = set(music.mirror_map.values()) | set(music.uplift_map.values())
    return sorted(c for c in named if c not in have)
