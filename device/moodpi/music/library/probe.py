"""One audio file's duration, tags and ReplayGain, read with mutagen (a scan opens only new or
changed files). The tags are read raw, not through mutagen's "easy" views, which hide the
ReplayGain of ID3 (TXXX) and MP4 (freeform) tags."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import mutagen

from moodpi.music.library.db import FileMeta
from moodpi.music.library.formats import LISTED_SUFFIXES, not_played

# The loudness a ReplayGain track gain brings a track to: ReplayGain 2.0's reference, -18 LUFS
# (89 dB SPL); an Opus R128_TRACK_GAIN (RFC 7845, Q7.8 dB) aims at EBU R128's -23 LUFS.
REPLAYGAIN_REFERENCE_LUFS = -18.0
R128_REFERENCE_LUFS = -23.0
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def probe(path: Path, mtime_ns: int, size: int) -> FileMeta:
    """Read duration and tags; a file that cannot be read gets a FileMeta with `error` set."""
    bad = FileMeta(mtime_ns, size, 0.0, "", "", "")
    if path.suffix.lower() not in LISTED_SUFFIXES:
        return replace(bad, error="unsupported file type")
    if not_played(path):
        return replace(bad, error=not_played(path))
    if size == 0:
        return replace(bad, error="empty file")
    try:
        audio = mutagen.File(path)
    except Exception as exc:  # mutagen raises many types for broken files
        return replace(bad, error=f"{type(exc).__name__}: {exc}")
    length = getattr(getattr(audio, "info", None), "length", 0.0) or 0.0
    if audio is None or not length > 0:
        return replace(bad, error="not a recognised audio stream")
    tags = audio.tags or {}
    title = _tag(tags, "title", "TIT2", "©nam", "Title") or path.stem
    artist = _tag(tags, "artist", "TPE1", "©ART", "Author")
    return FileMeta(mtime_ns, size, float(length), title, artist, "", tagged_loudness(tags))


def tagged_loudness(tags: Any) -> float | None:
    """The track's loudness in LUFS by its ReplayGain (or Opus R128) track gain; None: no tag.

    ID3 TXXX:REPLAYGAIN_TRACK_GAIN, Vorbis/FLAC/Opus/APE REPLAYGAIN_TRACK_GAIN, MP4
    ----:com.apple.iTunes:replaygain_track_gain, ASF replaygain_track_gain: any case.
    """
    found: dict[str, float] = {}
    try:
        keys = list(tags.keys())
    except Exception:
        return None
    for key in keys:
        name = str(key).lower().rsplit(":", 1)[-1]
        if name in ("replaygain_track_gain", "r128_track_gain") and name not in found:
            gain = _gain_db(_tag(tags, key), q78=name == "r128_track_gain")
            if gain is not None:
                found[name] = gain
    if "replaygain_track_gain" in found:
        return round(REPLAYGAIN_REFERENCE_LUFS - found["replaygain_track_gain"], 2)
    if "r128_track_gain" in found:
        return round(R128_REFERENCE_LUFS - found["r128_track_gain"], 2)
    return None


def _gain_db(text: str, *, q78: bool) -> float | None:
    match = _NUMBER.search(text)
    if match is None:
        return None
    gain = float(match.group().replace(",", "."))
    gain = gain / 256.0 if q78 else gain
    return gain if -60.0 <= gain <= 60.0 else None  # beyond: a broken tag, not a level


def _tag(tags: Any, *keys: str) -> str:
    for key in keys:
        try:
            value = tags.get(key) if hasattr(tags, "get") else None
        except Exception:
            value = None
        if value:
            text = value[0] if isinstance(value, list) else getattr(value, "text", [value])[0]
            if isinstance(text, bytes):  # MP4 freeform atoms
                text = text.decode("utf-8", "replace")
            return str(text).strip()
    return ""
