"""What PyAV costs: import time and memory, and decoding time per minute of audio, for the player
(moodpi.music.decoded.WavStream, as pygame's mixer reads it) and the analysis (a 30 s excerpt).

Each measurement runs in a fresh process on the same 3-minute stereo track, synthesised
(moodpi.lab.musicgen) and encoded as AAC (256 kbit/s, the iTunes Store's rate) and ALAC in .m4a,
with FLAC and MP3 for comparison, which soundfile or the mixer decode without PyAV. `python
scripts/music/bench_decode.py` prints the table; bench/music-decode.txt holds its output on the
development machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

SECONDS = 180.0

_CHILD = r"""
import json, os, sys, time
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
def mb(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key)) / 1024
import numpy, pygame  # what the daemon has loaded anyway
what, path = sys.argv[1], sys.argv[2]
base = mb("VmRSS")
t0 = time.perf_counter()
if what == "import":
    import av
    print(json.dumps({"import_s": time.perf_counter() - t0, "rss_mb": mb("VmRSS") - base}))
    sys.exit()
from moodpi.music.decoded import WavStream
from moodpi.music.analysis.decode import read_excerpt
base = mb("VmRSS")
cpu0 = time.process_time()
if what == "player":
    stream = WavStream(path)
    while stream.read(8192):  # what SDL_mixer asks for, one 46 ms buffer at a time
        pass
    stream.close()
else:
    read_excerpt(path)
print(json.dumps({"cpu_s": time.process_time() - cpu0, "peak_mb": mb("VmHWM") - base}))
"""


def _track(folder: Path) -> dict[str, Path]:
    from moodpi.lab.musicgen import FLAT_STYLES, SAMPLE_RATE_HZ, render

    rng = np.random.default_rng(0)
    mono = render(FLAT_STYLES[0], SECONDS, rng).astype(np.float32)
    stereo = np.stack([mono, np.roll(mono, 300)])  # a little width
    out = {}
    for name, fmt, codec, bit_rate in (("aac.m4a", "ipod", "aac", 256_000),
                                       ("alac.m4a", "ipod", "alac", 0),
                                       ("flac.flac", "flac", "flac", 0),
                                       ("mp3.mp3", "mp3", "libmp3lame", 256_000)):  # fmt: skip
        path = out[name] = folder / name
        with av.open(str(path), "w", format=fmt) as container:
            stream = container.add_stream(codec, rate=44100, layout="stereo")
            if bit_rate:
                stream.bit_rate = bit_rate
            sample_format = stream.codec_context.codec.audio_formats[0].name
            frame = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
            frame.sample_rate = SAMPLE_RATE_HZ
            resampler = av.AudioResampler(format=sample_format, layout="stereo", rate=44100)
            for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
                container.mux(stream.encode(chunk))
            container.mux(stream.encode(None))
    return out


def _run(what: str, path: Path | str, repeats: int) -> dict[str, float]:
    runs = [json.loads(subprocess.run([sys.executable, "-c", _CHILD, what, str(path)],
                                      check=True, capture_output=True, text=True).stdout)
            for _ in range(repeats)]  # fmt: skip
    return {key: min(run[key] for run in runs) for key in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the best is shown")
    args = parser.parse_args()
    print(f"PyAV {av.__version__}, FFmpeg libavcodec {av.library_versions['libavcodec']}")
    imported = _run("import", "-", args.repeats)
    print(f"import av: {imported['import_s']:.3f} s, +{imported['rss_mb']:.1f} MB RSS"
          " (beside numpy and pygame)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tracks = _track(Path(tmp))
        print(f"\n{'file':<10} {'size':>7}  {'player: CPU s/min':>17} {'peak +MB':>8}"
              f"  {'analysis excerpt: CPU s':>23} {'peak +MB':>9}")  # fmt: skip
        for name, path in tracks.items():
            size = f"{path.stat().st_size / 1e6:.1f} MB"
            player = _run("player", path, args.repeats) if name.endswith(".m4a") else None
            excerpt = _run("analysis", path, args.repeats)
            played = (f"{player['cpu_s'] / (SECONDS / 60):17.3f} {player['peak_mb']:8.1f}"
                      if player else f"{'(mixer itself)':>17} {'':>8}")  # fmt: skip
            print(f"{name:<10} {size:>7}  {played}  {excerpt['cpu_s']:23.3f}"
                  f" {excerpt['peak_mb']:9.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
