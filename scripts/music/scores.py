"""Key, mode and tempo of the analysis, scored on music whose key and tempo are known.

`.venv/bin/python scripts/music/scores.py [--chorales N] [--synth N]`:
- chorales: Bach chorales from music21's corpus, each given a tempo (60-150 BPM, cycled), written
  as MIDI and rendered to audio by fluidsynth with the General MIDI soundfont (Debian's
  `fluidsynth` and `fluid-soundfont-gm`; skipped with a line when absent). The true mode: the
  key signature's major or relative minor, whichever tonic the final bass note is (chorales
  ending elsewhere, modal ones, are left out);
- synth: moodpi's own synthesised progressions (scripts/musicgen.py) in known keys, modes and
  tempi.
Tempo counts as right within 4 % of the truth or of its double or half. bench/music-scores.txt
holds its output.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodpi.music.analysis.features import KEYS, describe_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: musicgen
from musicgen import MAJOR, MINOR, Style, _write_wav, render

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TEMPI_BPM = (60, 72, 84, 96, 108, 120, 132, 150)


@dataclass(frozen=True)
class Case:
    name: str
    audio: Path
    key: str
    mode: str
    tempo_bpm: float


def tempo_right(found: float, truth: float, tolerance: float = 0.04) -> bool:
    return any(abs(found - truth * k) <= tolerance * truth * k for k in (0.5, 1.0, 2.0))


def chorale_cases(count: int, work: Path) -> Iterator[Case]:
    try:
        from music21 import corpus, key, tempo
    except ImportError:
        print("chorales skipped: music21 is not installed (pip install music21)")
        return
    if shutil.which("fluidsynth") is None or not SOUNDFONT.is_file():
        print("chorales skipped: needs fluidsynth and fluid-soundfont-gm (apt-get install)")
        return
    made = 0
    for path in sorted(corpus.getComposer("bach"), key=str):
        if made >= count:
            return
        if "bwv" not in Path(path).stem or Path(path).suffix not in (".mxl", ".xml"):
            continue
        try:
            score = corpus.parse(path)
            truth = _chorale_key(score, key)
        except Exception:  # a score music21 cannot read is not the analysis' fault
            continue
        if truth is None:
            continue
        bpm = TEMPI_BPM[made % len(TEMPI_BPM)]
        for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
            mark.activeSite.remove(mark)
        score.parts[0].insert(0, tempo.MetronomeMark(number=bpm))
        midi, wav = work / f"{Path(path).stem}.mid", work / f"{Path(path).stem}.wav"
        score.write("midi", fp=str(midi))
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "22050", "-F", str(wav),
                        str(SOUNDFONT), str(midi)], check=True, capture_output=True)  # fmt: skip
        made += 1
        yield Case(Path(path).stem, wav, truth[0], truth[1], float(bpm))


def _chorale_key(score: object, key_module: object) -> tuple[str, str] | None:
    signatures = list(score.recurse().getElementsByClass("KeySignature"))  # type: ignore[attr-defined]
    bass = score.parts[-1].recurse().notes  # type: ignore[attr-defined]
    if not signatures or not bass:
        return None
    major = signatures[0].asKey("major").tonic.pitchClass
    last = bass[-1]
    final = (last.pitches[0] if hasattr(last, "pitches") else last.pitch).pitchClass
    if final == major:
        return KEYS[major], "major"
    if final == (major + 9) % 12:
        return KEYS[final], "minor"
    return None


def synth_cases(count: int, work: Path) -> Iterator[Case]:
    rng = np.random.default_rng(0)
    voices = ("arp", "pluck", "pad")
    for i in range(count):
        minor = i % 2 == 1
        root = 48 + int(rng.integers(0, 12))
        bpm = TEMPI_BPM[i % len(TEMPI_BPM)]
        style = Style(bpm, MINOR if minor else MAJOR, root, (0, 3, 4, 0), voices[i % 3],
                      harmonics=3, beat=True)  # fmt: skip
        wav = work / f"synth_{i:02d}.wav"
        _write_wav(wav, render(style, 20.0, np.random.default_rng(i)))
        yield Case(wav.stem, wav, KEYS[root % 12], "minor" if minor else "major", float(bpm))


def score(cases: Iterator[Case], label: str) -> None:
    rows = []
    for case in cases:
        found = describe_file(case.audio)
        rows.append((case, found.key, found.mode, found.tempo_bpm))
    if not rows:
        return
    mode = np.mean([m == c.mode for c, _, m, _ in rows])
    keys = np.mean([(k, m) == (c.key, c.mode) for c, k, m, _ in rows])
    tempo = np.mean([tempo_right(t, c.tempo_bpm) for c, _, _, t in rows])
    exact = np.mean([tempo_right(t, c.tempo_bpm) and abs(t / c.tempo_bpm - 1) <= 0.04
                     for c, _, _, t in rows])  # fmt: skip
    majors = sum(c.mode == "major" for c, *_ in rows)
    print(f"{label}: {len(rows)} pieces ({majors} major, {len(rows) - majors} minor)")
    print(f"  mode {mode:.3f}   key and mode {keys:.3f}   tempo within 4 % (or x2, /2)"
          f" {tempo:.3f}   (at the written tempo itself {exact:.3f})")  # fmt: skip
    for c, k, m, t in rows:
        if m != c.mode or not tempo_right(t, c.tempo_bpm):
            print(f"    miss {c.name}: {c.key} {c.mode} {c.tempo_bpm:.0f} BPM -> {k} {m} {t:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/music/scores.py",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--chorales", type=int, default=40, help="how many Bach chorales")
    parser.add_argument("--synth", type=int, default=24, help="how many synthesised pieces")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        score(chorale_cases(args.chorales, Path(tmp)), "Bach chorales (music21, fluidsynth)")
        score(synth_cases(args.synth, Path(tmp)), "synthesised progressions (musicgen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
