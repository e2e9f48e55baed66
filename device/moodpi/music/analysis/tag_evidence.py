"""What a file's tags say about its mood: genre, mood words, BPM and key, as Picard, beets or
Mixed In Key write them (ID3 TCON/TMOO/TBPM/TKEY, Vorbis GENRE/MOOD/BPM/INITIALKEY, ...).

Genres map onto the calibration's genre vocabulary (AllMusic's top-level genres) through aliases;
mood words onto points of Russell's circumplex (valence, arousal), after Russell (1980) and the
ANEW norms, rounded: evidence to blend with the audio, not a measurement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.easyid3 import EasyID3

if "initialkey" not in EasyID3.valid_keys:
    EasyID3.RegisterTextKey("initialkey", "TKEY")  # type: ignore[no-untyped-call]

KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E"}
# Camelot wheel (Mixed In Key): 8B = C major, 8A = A minor, one step = a fifth.
_CAMELOT_MAJOR = {(8 + i - 1) % 12 + 1: KEYS[i * 7 % 12] for i in range(12)}

GENRE_ALIASES: dict[str, tuple[str, ...]] = {
    "Pop/Rock": ("rock", "pop", "metal", "punk", "indie", "alternative", "grunge", "emo", "hard"),
    "Electronic": ("electro", "techno", "house", "trance", "dance", "edm", "dubstep", "drum"),
    "Jazz": ("jazz", "swing", "bebop", "bossa"),
    "R&B": ("r&b", "rnb", "soul", "funk", "motown", "disco"),
    "Rap": ("rap", "hip hop", "hip-hop", "hiphop", "trap", "grime"),
    "Blues": ("blues",),
    "Reggae": ("reggae", "ska", "dub", "dancehall"),
    "Folk": ("folk", "singer-songwriter", "acoustic", "celtic"),
    "Country": ("country", "bluegrass", "americana"),
    "New Age": ("new age", "ambient", "meditation", "relax", "chill"),
    "Stage & Screen": ("soundtrack", "score", "musical", "film", "game"),
    "Latin": ("latin", "salsa", "samba", "tango", "reggaeton", "cumbia"),
    "Easy Listening": ("easy listening", "lounge", "exotica"),
    "International": ("world", "international", "afro", "k-pop", "j-pop", "chanson"),
    "Vocal": ("vocal", "crooner", "standards"),
    "Holiday": ("christmas", "holiday", "xmas"),
    "Classical": ("classical", "baroque", "orchestra", "symphon", "opera", "chamber"),
    "Religious": ("gospel", "christian", "religious", "worship", "hymn"),
    "Avant-Garde": ("avant", "experimental", "noise"),
}

MOOD_WORDS: dict[str, tuple[float, float]] = {
    "happy": (0.8, 0.5), "joyful": (0.8, 0.6), "joyous": (0.8, 0.6), "cheerful": (0.8, 0.4),
    "upbeat": (0.6, 0.6), "energetic": (0.4, 0.8), "exciting": (0.5, 0.8), "party": (0.6, 0.8),
    "euphoric": (0.8, 0.8), "playful": (0.6, 0.4), "fun": (0.7, 0.5), "romantic": (0.6, -0.1),
    "calm": (0.4, -0.7), "relaxed": (0.5, -0.6), "relaxing": (0.5, -0.6), "peaceful": (0.5, -0.7),
    "chill": (0.4, -0.5), "mellow": (0.3, -0.5), "gentle": (0.4, -0.5), "dreamy": (0.3, -0.5),
    "tender": (0.5, -0.4), "soothing": (0.5, -0.7), "warm": (0.5, -0.2), "hopeful": (0.5, 0.1),
    "sad": (-0.7, -0.4), "melancholy": (-0.5, -0.4), "melancholic": (-0.5, -0.4),
    "gloomy": (-0.6, -0.4), "depressed": (-0.8, -0.5), "lonely": (-0.6, -0.4),
    "bittersweet": (-0.1, -0.3), "somber": (-0.5, -0.5), "dark": (-0.5, 0.1),
    "angry": (-0.6, 0.8), "aggressive": (-0.5, 0.8), "intense": (-0.2, 0.8),
    "tense": (-0.5, 0.6), "anxious": (-0.6, 0.6), "fearful": (-0.6, 0.6), "scary": (-0.6, 0.6),
    "hostile": (-0.7, 0.7), "furious": (-0.7, 0.9), "epic": (0.3, 0.8), "dramatic": (0.0, 0.6),
}  # fmt: skip


@dataclass(frozen=True)
class TagEvidence:
    genres: tuple[str, ...]  # in the calibration's vocabulary
    mood_point: tuple[float, float] | None  # mean (valence, arousal) of the known mood words
    mood_words: int
    bpm: float | None
    key: str  # "" when no usable key tag
    mode: str  # "major" | "minor" | ""

    @property
    def empty(self) -> bool:
        return not (self.genres or self.mood_point or self.bpm or self.key)


NO_TAGS = TagEvidence((), None, 0, None, "", "")


def read_tags(path: Path) -> TagEvidence:
    try:
        audio = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types on broken files; tags are only evidence
        return NO_TAGS
    tags = getattr(audio, "tags", None) or {}
    key, mode = parse_key(_first(tags, "initialkey", "key"))
    return TagEvidence(
        genres=map_genres(_all(tags, "genre")),
        mood_point=_mood_point(words := _words(_all(tags, "mood"))),
        mood_words=len(words),
        bpm=_bpm(_first(tags, "bpm")),
        key=key,
        mode=mode,
    )


def map_genres(values: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        text = value.lower()
        for genre, aliases in GENRE_ALIASES.items():
            if genre not in found and any(alias in text for alias in aliases):
                found.append(genre)
    return tuple(found)


def parse_key(text: str) -> tuple[str, str]:
    """'Am', 'F# minor', 'Bbmaj', '8A' (Camelot) → ('A', 'minor') ...; ('', '') if unreadable."""
    text = text.strip()
    camelot = re.fullmatch(r"(1[0-2]|[1-9])\s*([ABab])", text)
    if camelot:
        number, letter = int(camelot.group(1)), camelot.group(2).upper()
        major = _CAMELOT_MAJOR[number]
        if letter == "B":
            return major, "major"
        return KEYS[(KEYS.index(major) + 9) % 12], "minor"
    match = re.fullmatch(r"([A-Ga-g])([#b♯♭]?)\s*(.*)", text)
    if not match:
        return "", ""
    name = match.group(1).upper() + match.group(2).replace("♯", "#").replace("♭", "b")
    name = _FLATS.get(name, name)
    if name not in KEYS:
        name = KEYS[(KEYS.index(name[0]) + 1) % 12] if name.endswith("#") else ""
    rest = match.group(3).lower()
    minor = (rest.startswith("m") and not rest.startswith("maj")) or "min" in rest
    return (name, "minor" if minor else "major") if name else ("", "")


def _words(values: list[str]) -> list[str]:
    words = re.split(r"[;,/|]+|\s+", " ".join(values).lower())
    return [w for w in words if w in MOOD_WORDS]


def _mood_point(words: list[str]) -> tuple[float, float] | None:
    if not words:
        return None
    points = [MOOD_WORDS[w] for w in words]
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def _bpm(text: str) -> float | None:
    try:
        bpm = float(text.replace(",", "."))
    except ValueError:
        return None
    return bpm if 30.0 <= bpm <= 300.0 else None


_ID3_FRAMES = {"genre": "TCON", "mood": "TMOO", "bpm": "TBPM", "initialkey": "TKEY"}


def _all(tags: Any, name: str) -> list[str]:
    try:
        if hasattr(tags, "getall"):  # raw ID3 (WAV, AIFF: mutagen has no easy view of them)
            frames = tags.getall(_ID3_FRAMES.get(name, name.upper()))
            return [str(t) for frame in frames for t in getattr(frame, "text", [])]
        value = tags.get(name) if hasattr(tags, "get") else None
    except Exception:  # a malformed frame must not lose the other tags
        return []
    if not value:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _first(tags: Any, *names: str) -> str:
    for name in names:
        values = _all(tags, name)
        if values:
            return values[0]
    return ""
