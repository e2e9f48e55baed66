"""One playable file of the library, what the policies need from a library of them, and the
gain it plays at (loudness levelling, so that a mood change is not a jump in volume).

A track's loudness comes from its ReplayGain (or Opus R128) tag where it has one, else from the
analysis's measure (ITU-R BS.1770 integrated loudness of its middle 30 s); see Track.loudness_lufs.
pygame's mixer can only attenuate (its volume is at most 1.0), so levelling brings the tracks
louder than `music.loudness_target_lufs` down to it and leaves quieter ones as they are: the
default target, -20 LUFS, sits below nearly all released music (of 120 recorded clips measured
here, 5 % were quieter than -19 LUFS, the median -12 LUFS), which is the headroom that lets
attenuation alone level a library. The price is volume: a modern master at -10 LUFS plays 10 dB
down, which the amplifier or `music.volume` makes up once for all tracks.
"""

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
    loudness_lufs: float | None = None  # by its ReplayGain tag, else as the analysis measured it
    loudness_from: str = ""  # "tag" | "measured" | "" (not measured yet: UNMEASURED_LUFS)

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


# A track not measured yet (no tag, not analysed yet) is taken to be as loud as typical released
# music, the median above, rather than played unlevelled and up to 10 dB louder than its peers.
UNMEASURED_LUFS = -12.0


@dataclass(frozen=True)
class Levelling:
    target_lufs: float = -20.0
    enabled: bool = True

    def gain_db(self, track: Track) -> float:
        """The track's gain in dB, 0 or below."""
        if not self.enabled:
            return 0.0
        loudness = UNMEASURED_LUFS if track.loudness_lufs is None else track.loudness_lufs
        return min(0.0, self.target_lufs - loudness)

    def gain(self, track: Track) -> float:
        """The same as a factor for the mixer's volume, 0..1."""
        return float(10 ** (self.gain_db(track) / 20))


OFF = Levelling(enabled=False)
