"""One playable file of the library, and what the policies need from a library of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

UNSORTED = ""  # the category of a track in no category folder or playlist: just music


@dataclass(frozen=True)
class Track:
    path: Path
    category: str
    duration_s: float
    title: str
    artist: str = ""
    valence: float | None = None  # -1..1 by the analysis; None: not (yet) analysed
    arousal: float | None = None
    confidence: float = 0.0

    @property
    def placed(self) -> bool:
        return self.valence is not None and self.arousal is not None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


class TrackSource(Protocol):
    """What the policies need from a library."""

    def tracks(self, category: str) -> list[Track]: ...

    def categories(self) -> dict[str, int]: ...

    def placed_tracks(self) -> list[Track]: ...
