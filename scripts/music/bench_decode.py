"""What PyAV costs: import time and memory, and decoding time per minute of audio, for the player
(moodpi.music.decoded.DecodedFile) and the analysis (a 30 s excerpt); and whether the mixer
plays a decoded file as steadily as a native one while other Python threads run.

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
if what.startswith("mixer"):  # the mixer plays the file while other Python threads run
    import threading
    load = what.split(":")[1]
    def python_work(stop):
        x = 0
        while not stop.is_set():
            if load == "spin":
                for i in range(10000): x += i * i
            else:  # a 10 fps main loop with 20 ms of pure Python a frame
                t = time.perf_counter()
                while time.perf_counter() - t < 0.02: x += 1
                time.sleep(0.08)
    stop = threading.Event()
    workers = {"idle": 0, "loop": 1, "spin": 3}[load]
    for _ in range(workers):
        threading.Thread(target=python_work, args=(stop,), daemon=True).start()
    os.environ.update(SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=os.devnull)
    from moodpi.music.decoded import DecodedFile
    pygame.mixer.init(44100, -16, 2, 2048, allowedchanges=0)
    decoded = None if path.endswith(".flac") else DecodedFile(path)
    pygame.mixer.music.load(decoded.path if decoded else path)
    t0 = time.perf_counter()
    pygame.mixer.music.play()
    while pygame.mixer.music.get_busy() and time.perf_counter() - t0 < 60:
        if decoded:
            decoded.played(pygame.mixer.music.get_pos() / 1000)
        time.sleep(0.02)
    print(json.dumps({"render_s": time.perf_counter() - t0}))
    stop.set()
    sys.exit()
from moodpi.music.decoded import DecodedFile
from moodpi.music.analysis.decode import read_excerpt
base = mb("VmRSS")
cpu0 = time.process_time()
if what == "player":  # all of it, as fast as it goes (a playing track is paced)
    decoded = DecodedFile(path)
    decoded.wait(60.0)
    decoded.close()
else:
    read_excerpt(path)
print(json.dumps({"cpu_s": time.process_time() - cpu0, "peak_mb": mb("VmHWM") - base}))
"""


def _track(folder: Path, seconds: float = SECONDS) -> dict[str, Path]:
    from moodpi.lab.musicgen import FLAT_STYLES, SAMPLE_RATE_HZ, render

    rng = np.random.default_rng(0)
    mono = render(FLAT_STYLES[0], seconds, rng).astype(np.float32)
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
        # SDL's disk driver renders in real time; a mixer thread kept waiting (for Python's GIL)
        # renders slower, which a sound card hears as dropouts.
        short = Path(tmp) / "short"
        short.mkdir()
        clips = _track(short, seconds=20.0)
        print(f"\n20 s of audio rendered by SDL's disk driver in (s), best of {args.repeats}:")
        print(f"{'':<10} {'idle':>6} {'loop':>6} {'spin':>6}   loop: one thread, 20 ms of"
              " Python per 100 ms; spin: three threads of Python")  # fmt: skip
        for name in ("flac.flac", "aac.m4a"):
            times = [_run(f"mixer:{load}", clips[name], args.repeats)["render_s"]
                     for load in ("idle", "loop", "spin")]  # fmt: skip
            print(f"{name:<10} " + " ".join(f"{t:6.2f}" for t in times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
