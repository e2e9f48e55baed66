"""`moodpi bench`: per-stage latency, one-core throughput, peak memory and cold start.

The measured process is a fresh child (`python -m moodpi.bench --child`) that does only what the
daemon does: import, load both models, then detect and classify frames on one CPU core with
single-threaded TFLite. So its peak RSS and its time to the first classification are the
perception process's own, not this parent's (which composes the frames). Frames reach the child
JPEG-encoded on stdin and are decoded outside the timed region.

Top-level imports stay in the standard library: the child's cold start must pay for its imports.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moodpi.config import CameraConfig

log = logging.getLogger(__name__)

DISTINCT_FRAMES_MAX = 120  # frames sent to the child; longer runs cycle through them
HOLD_FRAMES = 20  # generated frames: a person stays 2 s (at 10 fps) in one place, as people do
CHILD_TIMEOUT_S = 600.0
RESULT_KEYS = (
    "detect_ms",
    "classify_ms",
    "frame_ms",
    "fps_one_core",
    "peak_rss_mb",
    "first_classification_s",
    "runtime",
    "frames",
)


# ---------------------------------------------------------------------------------------------
# Parent: frames, child process, report


def cli_bench(args: argparse.Namespace) -> int:
    if getattr(args, "distance", False):
        from moodpi.lab.distance import cli_distance

        return cli_distance(args)
    if getattr(args, "mood_grid", None):
        from moodpi.lab.mood.grid import cli_mood_grid

        return cli_mood_grid(args)
    if getattr(args, "mood", None):
        from moodpi.lab.mood.bench import cli_mood_bench

        return int(cli_mood_bench(args) or 0)
    if args.frames < 1:
        log.error("--frames must be at least 1")
        return 64
    from moodpi import config as config_mod

    config = config_mod.load(args.config)  # a bad config fails here, with its own exit code
    try:
        encoded, described = _source_frames(args.source, args.frames, config.camera)
    except (OSError, ValueError, RuntimeError) as exc:
        log.error("bench: %s", exc)
        return 66  # EX_NOINPUT
    try:
        hold = HOLD_FRAMES if args.source is None else 1
        result = run_child(encoded, frames=args.frames, config_path=args.config, hold=hold)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log.error("bench: %s", exc)
        return 1
    result["source"] = described
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_report(result))
    return 0


def _source_frames(
    source: str | None, n_frames: int, camera: CameraConfig
) -> tuple[list[bytes], str]:
    count = min(n_frames + 1, DISTINCT_FRAMES_MAX)  # +1: the cold-start frame
    if source is None:
        size = (camera.width, camera.height)
        from moodpi.lab.replaygen import room_frames

        frames = [_encode(f) for f in room_frames(-(-count // HOLD_FRAMES), size=size)]
        described = (
            f"generated {size[0]}x{size[1]}, {len(frames)} people at 1-4 m, "
            f"{HOLD_FRAMES} frames each"
        )
        return frames, described
    kind, _, path = source.partition(":")
    if kind != "replay" or not path:
        raise ValueError(f"--source must be replay:PATH, got {source!r}")
    return replay_frames(Path(path), count, camera), f"replay {path}"


def _encode(image: Any) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError("cannot JPEG-encode a frame")
    return buf.tobytes()


def replay_frames(path: Path, count: int, camera: CameraConfig | None = None) -> list[bytes]:
    """Up to `count` frames of a replay (video file, image folder, or a replay dir with frames/),
    read by the daemon's own replay source (so sized as the daemon would see them)."""
    import msgspec

    from moodpi.config import CameraConfig
    from moodpi.perception.sources import SourceEnded, open_source

    if (path / "frames").is_dir():
        path = path / "frames"
    camera = msgspec.structs.replace(camera or CameraConfig(), realtime=False, loop=False)
    source = open_source(f"replay:{path}", camera)
    out: list[bytes] = []
    source.start()
    try:
        while len(out) < count:
            try:
                frame = source.read(1.0)
            except SourceEnded:
                break
            if frame is not None:
                out.append(_encode(frame.image))
    finally:
        source.stop()
    if not out:
        raise ValueError(f"no readable frames in {path}")
    return out


def _pack(frames: Sequence[bytes]) -> bytes:
    parts = [struct.pack("<I", len(frames))]
    for data in frames:
        parts += [struct.pack("<I", len(data)), data]
    return b"".join(parts)


def run_child(
    encoded: Sequence[bytes],
    *,
    frames: int,
    config_path: str | None,
    hold: int = 1,
    cpu: int | None = None,
    build: str | None = None,
    samples: bool = False,
) -> dict[str, Any]:
    """Run the measured process; returns its result with first_classification_s from spawn.

    Each encoded frame is shown `hold` times in a row (a still scene for a while), frames 1 to
    `frames` of that sequence are timed after frame 0. `cpu`: the core (default: the last one
    allowed); `build`: "module:function" that makes the pipeline from the config (default
    build_perception); `samples`: also every frame's times and the emotion of its first face
    (`tops`, None where none was read).
    """
    command = [sys.executable, "-m", "moodpi.lab.bench", "--child", "--frames", str(frames)]
    command += ["--hold", str(hold)]
    if config_path:
        command += ["--config", config_path]
    command += ["--cpu", str(cpu)] if cpu is not None else []
    command += ["--build", build] if build else []
    command += ["--samples"] if samples else []
    from moodpi.lab.launch import with_package_path

    env = with_package_path(dict(os.environ))  # the package the parent runs, installed or not
    spawned = time.time()
    proc = subprocess.run(
        command, input=_pack(encoded), capture_output=True, timeout=CHILD_TIMEOUT_S, env=env
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"benchmark process failed ({proc.returncode}):\n{tail}")
    result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    result["first_classification_s"] = round(result.pop("first_classified_at") - spawned, 3)
    return {key: result[key] for key in RESULT_KEYS} | {
        k: v for k, v in result.items() if k not in RESULT_KEYS
    }


def format_report(r: dict[str, Any]) -> str:
    def stat(name: str) -> str:
        return f"median {r[name]['median']:7.2f} ms   p90 {r[name]['p90']:7.2f} ms"

    with_face = r.get("frames_with_face", 0)
    lines = [
        f"moodpi bench: {r['frames']} frames ({r.get('source', '')}), {r['runtime']}, one core",
        f"  detect    {stat('detect_ms')}",
        f"  classify  {stat('classify_ms')}   ({with_face} frames with a face)",
        f"  frame     {stat('frame_ms')}",
        f"  throughput           {r['fps_one_core']:7.1f} frames/s on one core",
        f"  peak RSS             {r['peak_rss_mb']:7.1f} MB",
        f"  first classification {r['first_classification_s']:7.2f} s after start",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Child: the measured perception process


def _pin_to_one_core(cpu: int | None) -> None:
    """One core, as on a busy Pi: pinned before any library starts a thread (they inherit it)."""
    if hasattr(os, "sched_getaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1] if cpu is None else cpu})


def _unpack(data: bytes) -> Iterator[bytes]:
    (count,) = struct.unpack_from("<I", data, 0)
    offset = 4
    for _ in range(count):
        (size,) = struct.unpack_from("<I", data, offset)
        yield data[offset + 4 : offset + 4 + size]
        offset += 4 + size


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    import numpy as np

    if not values:
        return {"median": 0.0, "p90": 0.0}
    arr = np.asarray(values)
    median, p90 = float(np.median(arr)), float(np.percentile(arr, 90))
    return {"median": round(median, 3), "p90": round(p90, 3)}


def child_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moodpi.lab.bench --child")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--hold", type=int, default=1)
    parser.add_argument("--config")
    parser.add_argument("--cpu", type=int)
    parser.add_argument("--build", help="module:function(config) -> the pipeline to time")
    parser.add_argument("--samples", action="store_true")
    args = parser.parse_args(argv)
    _pin_to_one_core(args.cpu)
    encoded = list(_unpack(sys.stdin.buffer.read()))

    import resource

    import cv2
    import numpy as np

    from moodpi import config as config_mod
    from moodpi.perception.pipeline import build_perception
    from moodpi.perception.tflite import runtime
    from moodpi.types import Frame

    cv2.setNumThreads(1)
    build = build_perception
    if args.build:
        module, _, name = args.build.partition(":")
        build = getattr(importlib.import_module(module), name)
    perception = build(config_mod.load(args.config))

    def decode(i: int) -> np.ndarray:
        k = (i // max(1, args.hold)) % len(encoded)
        image = cv2.imdecode(np.frombuffer(encoded[k], np.uint8), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"bench frame {k} cannot be decoded")
        return image

    perception.observe(Frame(decode(0), 0.0, 0))
    first_classified_at = time.time()
    detect, classify, whole, tops = [], [], [], []
    for i in range(1, args.frames + 1):
        image = decode(i)
        t0 = time.perf_counter()
        seen = perception.observe(Frame(image, i / 10.0, i))
        whole.append((time.perf_counter() - t0) * 1000.0)
        detect.append(perception.last_detect_ms)
        if seen.face_present:
            classify.append(perception.last_classify_ms)
        tops.append(seen.predictions[0].emotion if seen.predictions else None)
    result = {
        "detect_ms": _percentiles(detect),
        "classify_ms": _percentiles(classify),
        "frame_ms": _percentiles(whole),
        "fps_one_core": round(1000.0 * len(whole) / sum(whole), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "first_classified_at": first_classified_at,
        "runtime": runtime().describe(),
        "frames": len(whole),
        "frames_with_face": len(classify),
        "distinct_frames": len(encoded),
    }
    if args.samples:
        result["tops"] = tops
        result["samples_ms"] = {
            name: [round(x, 3) for x in values]
            for name, values in (
                ("detect_ms", detect),
                ("classify_ms", classify),
                ("frame_ms", whole),
            )
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
