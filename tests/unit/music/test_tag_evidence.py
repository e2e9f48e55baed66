"""What tags say: keys in every spelling, genres, mood words, BPM, read from a real file."""

from __future__ import annotations

from pathlib import Path

from mutagen.id3 import TBPM, TCON, TKEY, TMOO
from mutagen.wave import WAVE

from moodpi.music.analysis.tag_evidence import map_genres, parse_key, read_tags
from musicgen import write_clip


def test_key_tags_in_every_spelling() -> None:
    table = {"Am": ("A", "minor"), "F# minor": ("F#", "minor"), "Bbmaj": ("A#", "major"),
             "8A": ("A", "minor"), "8B": ("C", "major"), "1A": ("G#", "minor"),
             "Ebm": ("D#", "minor"), "C": ("C", "major"), "nonsense": ("", "")}  # fmt: skip
    assert {text: parse_key(text) for text in table} == table
    assert map_genres(["Alternative Rock", "Hip-Hop"]) == ("Pop/Rock", "Rap")
    assert map_genres(["Polka"]) == ()


def test_tags_are_read_from_a_real_file(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "t.wav", "happy", seconds=1.0)
    audio = WAVE(path)
    audio.add_tags()
    for frame in (TCON(text=["Synthpop"]), TMOO(text=["Happy; Energetic"]), TBPM(text=["128"]),
                  TKEY(text=["Am"])):  # fmt: skip
        audio.tags.add(frame)
    audio.save()
    tags = read_tags(path)
    assert (tags.genres, tags.bpm, tags.key, tags.mode, tags.mood_words) == (
        ("Pop/Rock",), 128.0, "A", "minor", 2,
    )  # fmt: skip
    assert tags.mood_point is not None and tags.mood_point[0] > 0.5
