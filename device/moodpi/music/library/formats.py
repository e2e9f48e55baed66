"""Which audio files the library takes, and who decodes each: one table for the scan, the player
and the analyser.

pygame's mixer (SDL_mixer 2.6 in the pygame 2.6 wheel) plays MP3, Ogg Vorbis, Opus, FLAC, WAV and
AIFF itself. It has no AAC decoder, so an iTunes or Apple Music library (`.m4a`: AAC or ALAC in
MP4) and the other formats in DECODED go through PyAV (FFmpeg's decoders in the `av` wheel),
imported only when such a file plays (moodpi.music.decoded) or is analysed. Files of the formats
in NOT_PLAYED are listed and counted as unreadable, with the reason, so that a library of them
does not read as empty without a word; anything else (covers, playlists, notes) is not music.
"""

from __future__ import annotations

from pathlib import Path

NATIVE = frozenset({".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".aif", ".aiff", ".aifc"})
DECODED = frozenset({".m4a", ".aac", ".wma", ".wv"})
AUDIO_SUFFIXES = NATIVE | DECODED  # what the library plays
NOT_PLAYED: dict[str, str] = {
    ".m4p": "DRM-protected iTunes purchase: cannot be decoded",
    **dict.fromkeys((".mid", ".midi", ".mod", ".xm", ".it", ".s3m"), "synthesised format"),
    **dict.fromkeys(
        (".ape", ".mpc", ".tta", ".dsf", ".dff", ".mka", ".ac3", ".dts", ".amr", ".ra", ".caf"),
        "format not supported",
    ),
}
LISTED_SUFFIXES = AUDIO_SUFFIXES | frozenset(NOT_PLAYED)  # what a scan lists (and counts)


def suffix(path: str | Path) -> str:
    """The lower-case suffix that names a file's format (".m4a"), or "" for none."""
    return Path(path).suffix.lower()


def plays_natively(path: str | Path) -> bool:
    """Whether pygame's mixer opens the file itself (else it is decoded by PyAV for it)."""
    return suffix(path) in NATIVE


def not_played(path: str | Path) -> str:
    """Why a listed file will not play (empty: its format plays)."""
    return NOT_PLAYED.get(suffix(path), "" if suffix(path) in AUDIO_SUFFIXES else "not audio")
