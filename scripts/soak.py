#!/usr/bin/env python3
"""Soak the real daemon: a looping replay as fast as it goes, a real broker, real (disk) audio.

    .venv/bin/python scripts/soak.py --duration 30m --out bench/soak.json

Starts its own Mosquitto on a free loopback port, generates a labelled replay of the fixture
faces and a music library in a work folder, and runs `python -m moodpi run --loop` against them
with SDL's `disk` audio driver writing to /dev/null. Every `--sample-s` seconds it records the
daemon's RSS, open file descriptors and threads (from /proc), the event-loop lag (now minus the
`written_at` of the status file the main loop rewrites about once a second), frames processed
(status diagnostics) and mood changes (from --events-jsonl).

It fails (exit 1) when the daemon dies, does not stop cleanly on SIGTERM within 5 s, stalls its
main loop (lag above the status file's staleness limit), its RSS after warm-up grows more than
`--rss-growth-pct`, or a count (fds, threads) keeps rising over the second half of the run: a
fitted rise of one or more whose floor (the minimum of a quarter of that half) also moved up, so
that a thread that comes and goes with a fade is not mistaken for a leak.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from moodpi.lab.launch import daemon_env, run_command
from moodpi.system.status import status_path
from moodpi.system.status_reader import STALE_AFTER_S, read_status

REPO = Path(__file__).resolve().parents[1]


FACES_DIR = REPO / "tests" / "fixtures" / "faces"
# Several moods with empty rooms between: the tracker publishes changes on every pass.
SEGMENTS: list[tuple[str | None, float]] = [
    ("happy", 6.0),
    ("surprise", 6.0),
    (None, 3.0),
    ("sad", 6.0),
    ("angry", 6.0),
    (None, 3.0),
    ("neutral", 6.0),
]
STOP_LIMIT_S = 5.0
BROKER_START_S = 10.0
READY_TIMEOUT_S = 120.0


@dataclass
class Sample:
    t_s: float  # since the daemon started
    rss_kb: int
    fds: int
    threads: int
    lag_s: float | None  # now - status written_at; None: no status yet
    frames: int
    moods: int
    state: str


# ---------------------------------------------------------------------------------------------
# Inputs: duration, broker, replay, music, config


def parse_duration(text: str) -> float:
    """'90', '90s', '30m', '1.5h' → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 30m, 1h)")
    scale = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    seconds = float(match.group(1)) * scale
    if seconds <= 0:
        raise argparse.ArgumentTypeError("duration must be positive")
    return seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One anonymous Mosquitto on a loopback port, as tests/broker.py starts it."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise SystemExit("mosquitto is not installed (make test-deps installs it)")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nuser {getpass.getuser()}\npersistence false\n"
            "allow_anonymous true\nlog_dest stdout\nlog_type error\nlog_type warning\n"
        )
        log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 - the child holds it
        self._proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + BROKER_START_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SystemExit(f"mosquitto exited with {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("mosquitto did not accept connections")

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def make_inputs(work: Path, music_seconds: float) -> tuple[Path, Path]:
    """The replay frames folder and the music root, generated once per work folder."""
    from moodpi.lab.replaygen import load_fixture_faces, make_labelled_replay
    from musicgen import generate_library

    replay = work / "replay"
    if not (replay / "truth.json").exists():
        faces = load_fixture_faces(FACES_DIR)
        make_labelled_replay(faces, replay, fps=10.0, segments=SEGMENTS, seed=11)
    music = work / "music"
    generate_library(music, seconds=music_seconds, seed=0)
    return replay / "frames", music


def write_config(work: Path, frames: Path, music: Path, port: int) -> Path:
    path = work / "config.toml"
    path.write_text(
        f'state_dir = "{work / "state"}"\ndevice_id = "soak"\n'
        f'[camera]\nsource = "replay:{frames}"\nloop = true\n'
        f'[music]\nroot = "{music}"\nfade_ms = 500\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nbase_topic = "soak/moodpi"\n'
        "diagnostics_interval_s = 10.0\n"
    )
    return path


# ---------------------------------------------------------------------------------------------
# Sampling


def proc_counts(pid: int) -> tuple[int, int, int]:
    """(RSS in kB, open fds, threads) of a live process, from /proc."""
    rss_kb = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_kb, fds, threads


class MoodCounter:
    """Counts mood events in the growing JSON-lines file, reading only what is new."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.moods = 0
        self.events = 0

    def update(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self.moods
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            if line.strip():
                self.events += 1
                try:
                    self.moods += json.loads(line).get("type") == "mood"
                except (ValueError, AttributeError):
                    continue  # a torn line at a crash: not an event
        return self.moods


def take_sample(pid: int, started: float, status_file: Path, moods: MoodCounter) -> Sample:
    rss_kb, fds, threads = proc_counts(pid)
    now = time.time()
    reading = read_status(status_file, now_s=now)
    data = reading.data or {}
    written = data.get("written_at")
    lag = round(now - written, 3) if isinstance(written, (int, float)) else None
    frames = int((data.get("diagnostics") or {}).get("frames", 0))
    return Sample(
        t_s=round(time.monotonic() - started, 1),
        rss_kb=rss_kb,
        fds=fds,
        threads=threads,
        lag_s=lag,
        frames=frames,
        moods=moods.update(),
        state=reading.state,
    )


# ---------------------------------------------------------------------------------------------
# Verdict


def slope_per_s(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope; 0 for fewer than two distinct x."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def keeps_rising(xs: Sequence[float], ys: Sequence[float]) -> tuple[bool, float]:
    """(rising, fitted rise over the span): rise ≥ 1 and the floor of the last quarter above the
    floor of the first one."""
    if len(xs) < 4:
        return False, 0.0
    rise = slope_per_s(xs, ys) * (xs[-1] - xs[0])
    q = max(1, len(ys) // 4)
    floor_moved = min(ys[-q:]) > min(ys[:q])
    return rise >= 1.0 and floor_moved, round(rise, 3)


def evaluate(samples: Sequence[Sample], warmup_s: float, rss_growth_pct: float) -> dict[str, Any]:
    after = [s for s in samples if s.t_s >= warmup_s]
    if len(after) < 4:
        return {"ok": False, "failures": ["too few samples after warm-up"]}
    failures: list[str] = []
    k = max(3, len(after) // 10)
    rss_start = statistics.median(s.rss_kb for s in after[:k])
    rss_end = statistics.median(s.rss_kb for s in after[-3:])
    growth_pct = 100.0 * (rss_end - rss_start) / rss_start
    if growth_pct > rss_growth_pct:
        failures.append(f"RSS grew {growth_pct:.1f} % after warm-up (limit {rss_growth_pct} %)")
    half = after[len(after) // 2 :]
    xs = [s.t_s for s in half]
    trends: dict[str, Any] = {}
    for name in ("fds", "threads"):
        rising, rise = keeps_rising(xs, [float(getattr(s, name)) for s in half])
        trends[name] = {"rise_over_second_half": rise, "rising": rising}
        if rising:
            failures.append(f"{name} keep rising: +{rise} over the second half")
    rss_slope = slope_per_s(xs, [s.rss_kb / 1024.0 for s in half])
    trends["rss_mb_per_h_second_half"] = round(rss_slope * 3600.0, 2)
    lags = [s.lag_s for s in after if s.lag_s is not None]
    if not lags:
        failures.append("no status file was read")
    elif max(lags) > STALE_AFTER_S:
        failures.append(f"event loop stalled: lag {max(lags):.1f} s > {STALE_AFTER_S} s")
    return {
        "ok": not failures,
        "failures": failures,
        "rss_start_mb": round(rss_start / 1024.0, 1),
        "rss_end_mb": round(rss_end / 1024.0, 1),
        "rss_growth_pct": round(growth_pct, 2),
        "trends": trends,
        "lag_s": {
            "median": round(statistics.median(lags), 3) if lags else None,
            "max": round(max(lags), 3) if lags else None,
        },
    }


# ---------------------------------------------------------------------------------------------
# The run


def stop_daemon(proc: subprocess.Popen[bytes]) -> tuple[int | None, float]:
    """SIGTERM; (exit code or None if it had to be killed, seconds to exit)."""
    if proc.poll() is not None:
        return proc.returncode, 0.0
    proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    try:
        code = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        return None, time.monotonic() - t0
    return code, time.monotonic() - t0


def wait_ready(proc: subprocess.Popen[bytes], status_file: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        data = read_status(status_file).data or {}
        frames = (data.get("diagnostics") or {}).get("frames", 0)
        if data.get("pid") == proc.pid and frames > 0:
            return
        time.sleep(0.5)
    raise RuntimeError("the daemon did not classify a frame in time (see daemon.log)")


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    frames_dir, music = make_inputs(work, args.music_seconds)
    broker = Broker(work / "broker").start()
    config = write_config(work, frames_dir, music, broker.port)
    events_path = work / "events.jsonl"
    events_path.unlink(missing_ok=True)  # a reused --work-dir starts afresh
    for stale in (work / "state", work / "run"):
        shutil.rmtree(stale, ignore_errors=True)
    # real mixing and pacing to SDL's disk driver, nothing kept; status.json in work/run
    env = daemon_env(audio_file=os.devnull, runtime_dir=work / "run")
    status_file = status_path(work / "state", environ=env)
    command = run_command(config=config, events_jsonl=events_path)
    samples: list[Sample] = []
    moods = MoodCounter(events_path)
    mqtt_health: Any = None
    log_path = work / "daemon.log"
    with open(log_path, "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=log)
        died: int | None = None
        try:
            wait_ready(proc, status_file)
            ready_s = time.monotonic() - started
            end = started + ready_s + args.duration
            while time.monotonic() < end:
                if proc.poll() is not None:
                    died = proc.returncode
                    break
                samples.append(take_sample(proc.pid, started, status_file, moods))
                mqtt_health = (read_status(status_file).data or {}).get("mqtt")
                if args.verbose:
                    print(json.dumps(asdict(samples[-1])), flush=True)
                time.sleep(min(args.sample_s, max(0.0, end - time.monotonic())))
        finally:
            code, stop_s = stop_daemon(proc)
            broker.stop()
    moods.update()
    warmup_s = ready_s + args.warmup_s
    verdict = evaluate(samples, warmup_s, args.rss_growth_pct)
    if died is not None:
        verdict["ok"] = False
        verdict["failures"].append(f"daemon exited on its own with {died}")
    elif code != 0 or stop_s > STOP_LIMIT_S:
        verdict["ok"] = False
        verdict["failures"].append(f"SIGTERM: exit {code} after {stop_s:.1f} s")
    last = samples[-1] if samples else None
    journal_bytes = sum(p.stat().st_size for p in (work / "state").glob("journal.sqlite3*"))
    return {
        "duration_s": args.duration,
        "ready_s": round(ready_s, 2),
        "warmup_s": round(warmup_s, 1),
        "samples": len(samples),
        "frames_processed": last.frames if last else 0,
        "frames_per_s": round(last.frames / max(1e-9, last.t_s - ready_s), 1) if last else 0.0,
        "mood_changes": moods.moods,
        "events": moods.events,
        "fds": {"start": samples[0].fds, "end": last.fds} if last else {},
        "threads": {"start": samples[0].threads, "end": last.threads} if last else {},
        "rss_mb": {"first": _mb(samples[0].rss_kb), "last": _mb(last.rss_kb)} if last else {},
        "mqtt": mqtt_health,
        "journal_mb": round(journal_bytes / 2**20, 2),
        "exit_code": code,
        "stop_s": round(stop_s, 2),
        **verdict,
        "work_dir": str(work),
        "series": [asdict(s) for s in samples],
    }


def _mb(kb: int) -> float:
    return round(kb / 1024.0, 1)


def summary(r: dict[str, Any]) -> str:
    lines = [
        f"soak: {r['duration_s'] / 60:.1f} min after ready ({r['ready_s']} s), "
        f"{r['samples']} samples, warm-up until t={r['warmup_s']} s",
        f"  frames processed  {r['frames_processed']} ({r['frames_per_s']} frames/s)",
        f"  mood changes      {r['mood_changes']} ({r['events']} events)",
    ]
    if "rss_start_mb" in r:
        lines += [
            f"  RSS after warm-up {r['rss_start_mb']} MB -> end {r['rss_end_mb']} MB "
            f"({r['rss_growth_pct']:+.2f} %; first sample {r['rss_mb'].get('first')} MB)",
            f"  fds               {r['fds']}  threads {r['threads']}",
            f"  trends            {r['trends']}",
            f"  event-loop lag    {r['lag_s']}",
        ]
    mqtt = r.get("mqtt") or {}
    mqtt_keys = ("connected", "reconnects", "outbox_backlog", "last_error")
    lines.append(f"  MQTT (last)       { {k: mqtt.get(k) for k in mqtt_keys} }")
    lines.append(f"  journal on disk   {r.get('journal_mb')} MB")
    lines.append(f"  SIGTERM           exit {r['exit_code']} in {r['stop_s']} s")
    verdict = "OK" if r["ok"] else "FAIL: " + "; ".join(r["failures"])
    lines.append(f"  verdict           {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=parse_duration, default=parse_duration("30m"))
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples")
    parser.add_argument(
        "--warmup-s", type=float, default=None, help="after ready (default: min(120, duration/5))"
    )
    parser.add_argument("--rss-growth-pct", type=float, default=5.0)
    parser.add_argument("--music-seconds", type=float, default=8.0, help="length of each clip")
    parser.add_argument("--work-dir", type=Path, help="kept; default: a temporary folder")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "soak.json")
    parser.add_argument("--verbose", action="store_true", help="print every sample")
    args = parser.parse_args(argv)
    if args.warmup_s is None:
        args.warmup_s = min(120.0, args.duration / 5)
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        result = soak(args, args.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="moodpi-soak-") as tmp:
            result = soak(args, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(summary(result))
    print(f"  written           {args.out}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
