"""Choose the feature library by measurement: moodpi's numpy/scipy descriptors against librosa's.

Each path runs in a fresh process on the same clips (decoded by soundfile, 30 s excerpts):
import time, first-clip time (librosa's numba JIT compiles there), CPU per clip after it, and
peak RSS. `python scripts/music/bench_features.py [CLIP...]` (default: 10 dev clips) prints the
table; bench/music-features.txt holds its output on the development machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DEV_AUDIO = Path(__file__).resolve().parents[2].parent / "shared/data/music-mood-dev/audio"

_CHILD = r"""
import json, resource, sys, time
paths = sys.argv[2:]
t0 = time.process_time()
if sys.argv[1] == "moodpi":
    from moodpi.music.analysis.features import describe, decode_excerpt
    def run(p):
        x, s = decode_excerpt(p); describe(x, s)
else:
    import numpy as np, librosa
    from moodpi.music.analysis.features import decode_excerpt
    def run(p):
        y, _ = decode_excerpt(p); y = y.astype(np.float32)
        S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
        mel = librosa.feature.melspectrogram(S=S, sr=22050, n_mels=40)
        librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)
        librosa.feature.chroma_stft(S=S, sr=22050)
        librosa.feature.spectral_centroid(S=np.sqrt(S), sr=22050)
        librosa.feature.spectral_rolloff(S=np.sqrt(S), sr=22050)
        librosa.feature.spectral_flatness(S=np.sqrt(S))
        librosa.feature.rms(S=np.sqrt(S))
        env = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=22050)
        librosa.feature.tempo(onset_envelope=env, sr=22050)
import_s = time.process_time() - t0
t1 = time.process_time(); run(paths[0]); first_s = time.process_time() - t1
t2 = time.process_time()
for p in paths[1:]:
    run(p)
per_clip_s = (time.process_time() - t2) / max(1, len(paths) - 1)
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(import_s=import_s, first_s=first_s, per_clip_s=per_clip_s, rss_mb=rss_mb)))
"""


def measure(kind: str, paths: list[str], cache_dir: str) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, *paths], env=env,
                         capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*")
    args = parser.parse_args(argv)
    paths = args.clips or [str(p) for p in sorted(DEV_AUDIO.glob("*.ogg"))[:10]]
    print(f"{len(paths)} clips, one core; times are CPU seconds")
    print(f"{'path':<22}{'import':>8}{'1st clip':>10}{'per clip':>10}{'peak RSS':>10}")
    with tempfile.TemporaryDirectory() as cache:
        for kind, label in (("moodpi", "numpy/scipy (moodpi)"), ("librosa", "librosa, cold JIT"),
                            ("librosa", "librosa, warm JIT")):
            m = measure(kind, paths, cache)
            print(f"{label:<22}{m['import_s']:>7.2f}s{m['first_s']:>9.2f}s"
                  f"{m['per_clip_s']:>9.3f}s{m['rss_mb']:>7.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
