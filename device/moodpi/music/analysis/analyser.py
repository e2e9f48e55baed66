"""The analyser: places each track of the library on the valence-arousal plane, in its own
process (`python -m moodpi.music.analysis.analyser --cache STATE/library.sqlite3`, or `moodpi
library scan`), niced, one track per transaction.

It analyses what the library cache lists as readable and not yet analysed for its current size
and mtime, so a run killed at any moment (kill -9 included) resumes where it stopped, and a file
added later is analysed by the next run: the daemon starts one, niced, after each rescan that
finds new files (moodpi.music.library.watcher). One analyser at a time per cache (an flock
beside it, let go by the kernel even on kill -9). A file neither libsndfile nor FFmpeg (PyAV)
decodes (damaged, protected) is skipped with one line and remembered, until it changes.

Progress goes to the cache (`progress` row: `moodpi status` and the daemon's snapshot read it)
and, on a terminal, to a bar with the rate and ETA on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from moodpi.music.analysis.decode import DecodeError, read_excerpt, to_mono
from moodpi.music.analysis.features import describe
from moodpi.music.analysis.loudness import (
    ABSOLUTE_GATE_LUFS,
    integrated_loudness,
    playback_channels,
)
from moodpi.music.analysis.placement import PlacementModel
from moodpi.music.analysis.tag_evidence import read_tags
from moodpi.music.library import db as cache
from moodpi.music.library.db import Analysis, Progress

log = logging.getLogger("moodpi.music.analysis.analyser")  # also when run as __main__

NICENESS = 10
_REPORT_EVERY_S = 2.0  # progress row in the cache
_LOG_EVERY_S = 60.0  # progress line in the journal, when there is no terminal


@dataclass(frozen=True)
class RunReport:
    analysed: int
    failed: int
    left: int  # not reached (stopped early)
    cpu_s_per_track: float
    elapsed_s: float
    skipped_running: bool = False  # another analyser holds the cache


def analyse_file(path: Path, model: PlacementModel, mtime_ns: int, size: int) -> Analysis:
    """One file's analysis, or an Analysis with `error` set when it cannot be decoded."""
    now = time.time()
    try:
        excerpt = read_excerpt(path)
        described = describe(to_mono(excerpt), excerpt.seconds)
        # Silence reads as the gate's -70 LUFS: measured (not analysed again), never attenuated.
        loudness = integrated_loudness(playback_channels(excerpt.samples), excerpt.rate_hz)
        loudness = ABSOLUTE_GATE_LUFS if loudness is None else loudness
    except (DecodeError, OSError, MemoryError) as exc:
        return Analysis(mtime_ns, size, None, None, None, None, "", "", 0.0, "", model.name,
                        f"cannot decode: {exc}", now)  # fmt: skip
    tags = read_tags(path)
    place = model.place(described.vector, tags)
    tempo = tags.bpm or described.tempo_bpm
    key, mode = (tags.key, tags.mode) if tags.key else (described.key, described.mode)
    evidence = place.evidence + ("+bpm" if tags.bpm else "") + ("+key" if tags.key else "")
    return Analysis(mtime_ns, size, place.valence, place.arousal, round(tempo, 2),
                    described.loudness_db, key, mode, place.confidence, evidence, model.name, "",
                    now, loudness)  # fmt: skip


def run(
    cache_path: Path, *, model: PlacementModel | None = None, bar: TextIO | None = None,
    limit: int | None = None,
) -> RunReport:  # fmt: skip
    """Analyse every pending file of the cache; stops cleanly on SIGTERM between two files."""
    model = model or PlacementModel.load()
    with _exclusive(cache_path) as mine:
        if not mine:
            log.info("another analyser is working on %s; leaving it to that one", cache_path)
            return RunReport(0, 0, 0, 0.0, 0.0, skipped_running=True)
        return _run_locked(cache_path, model, bar, limit)


def _run_locked(cache_path: Path, model: PlacementModel, bar: TextIO | None,
                limit: int | None) -> RunReport:  # fmt: skip
    with cache.connect(cache_path) as db:
        todo = cache.pending(db, model.name)[:limit]
    started, cpu_started = time.time(), time.process_time()
    stopping = _StopFlag()
    analysed = failed = 0
    progress = Progress(os.getpid(), started, started, len(todo), 0, 0, False)
    _report(cache_path, progress, bar, force=True)
    for index, (path, meta) in enumerate(todo):
        if stopping.set:
            break
        result = analyse_file(Path(path), model, meta.mtime_ns, meta.size)
        if result.error:
            failed += 1
            log.warning("skipping %s: %s", path, result.error)
        else:
            analysed += 1
        with cache.connect(cache_path) as db:
            cache.write_analysis(db, path, result)
        progress = Progress(progress.pid, started, time.time(), len(todo), index + 1, failed,
                            False)  # fmt: skip
        _report(cache_path, progress, bar)
    done = analysed + failed
    progress = Progress(progress.pid, started, time.time(), len(todo), done, failed, True)
    _report(cache_path, progress, bar, force=True)
    if bar is not None and todo:
        bar.write("\n")
    cpu = (time.process_time() - cpu_started) / max(done, 1)
    return RunReport(analysed, failed, len(todo) - done, round(cpu, 3),
                     round(time.time() - started, 2))  # fmt: skip


_last = {"row": 0.0, "log": 0.0}


def _report(cache_path: Path, progress: Progress, bar: TextIO | None, force: bool = False) -> None:
    if bar is not None:
        bar.write("\r" + progress_line(progress))
        bar.flush()
    if force or progress.updated_at - _last["row"] >= _REPORT_EVERY_S:
        _last["row"] = progress.updated_at
        with contextlib.suppress(Exception), cache.connect(cache_path) as db:
            cache.write_progress(db, progress)
    if bar is None and progress.updated_at - _last["log"] >= _LOG_EVERY_S and progress.done:
        _last["log"] = progress.updated_at
        log.info("analysed %d of %d tracks", progress.done, progress.total)


def progress_line(progress: Progress, width: int = 24) -> str:
    """'[#########---------------]  812/5000  16%  3.1 tracks/s  ETA 22m 30s'."""
    share = progress.done / progress.total if progress.total else 1.0
    filled = round(share * width)
    elapsed = max(progress.updated_at - progress.started_at, 1e-3)
    rate = progress.done / elapsed
    eta = (progress.total - progress.done) / rate if rate > 0 else None
    eta_text = "--" if eta is None else _duration(eta)
    return (f"[{'#' * filled}{'-' * (width - filled)}] {progress.done:>5}/{progress.total}"
            f" {share:4.0%}  {rate:4.1f} tracks/s  ETA {eta_text}   ")  # fmt: skip


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


class _StopFlag:
    """SIGTERM/SIGINT: finish the track in hand (it is a fraction of a second), then stop."""

    def __init__(self) -> None:
        self.set = False
        with contextlib.suppress(ValueError):  # not the main thread: no handlers, run to the end
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum: int, frame: object) -> None:
        self.set = True


@contextlib.contextmanager
def _exclusive(cache_path: Path) -> Iterator[bool]:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = cache_path.with_name(cache_path.name + ".analyser.lock")
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def be_nice(niceness: int = NICENESS) -> None:
    """Lower this process's priority by `niceness` unless it is already that low."""
    with contextlib.suppress(OSError):
        current = os.nice(0)
        if current < niceness:
            os.nice(niceness - current)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moodpi.music.analysis.analyser",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--cache", type=Path, required=True, help="the library's SQLite cache")
    parser.add_argument("--limit", type=int, help="analyse at most N tracks in this run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    be_nice()
    bar = sys.stderr if sys.stderr.isatty() else None
    report = run(args.cache, bar=bar, limit=args.limit)
    log.info("analysis: %d placed, %d skipped, %d left, %.3f s CPU per track",
             report.analysed, report.failed, report.left, report.cpu_s_per_track)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
