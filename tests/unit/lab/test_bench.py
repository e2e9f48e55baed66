"""`moodpi bench` as a user runs it, and its measured child as `make bench` drives it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from moodpi.lab.bench import replay_frames, run_child
from moodpi.lab.replaygen import load_fixture_faces, make_labelled_replay
from moodpi.types import EMOTIONS
from tests.support.daemon import REPO

FACES_DIR = REPO / "tests" / "fixtures" / "faces"
BENCH_KEYS = {
    "detect_ms",
    "classify_ms",
    "frame_ms",
    "fps_one_core",
    "peak_rss_mb",
    "first_classification_s",
    "runtime",
    "frames",
}


def run_bench(*args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "moodpi", "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bench_json_has_every_key() -> None:
    report = run_bench("--frames", "30")
    assert set(report) >= BENCH_KEYS
    assert report["frames"] == 30
    # every generated frame shows someone at 1-4 m; the sweep finds a far one within seconds
    assert 5 <= report["frames_with_face"] <= 30
    for stage in ("detect_ms", "classify_ms", "frame_ms"):
        stats = report[stage]
        assert 0 < stats["median"] <= stats["p90"]
    assert report["frame_ms"]["median"] >= report["detect_ms"]["median"]
    assert report["fps_one_core"] > 0 and report["peak_rss_mb"] > 10
    assert 0 < report["first_classification_s"] < 60
    assert "litert" in report["runtime"] or "tflite" in report["runtime"]


def test_bench_on_a_replay_folder(tmp_path: Path) -> None:
    faces = load_fixture_faces(FACES_DIR)
    make_labelled_replay(faces, tmp_path, fps=2.0, segments=[("happy", 2.0), (None, 2.0)], seed=0)
    report = run_bench("--source", f"replay:{tmp_path}", "--frames", "8")
    assert report["frames"] == 8 and 2 <= report["frames_with_face"] <= 6


def test_bench_refuses_a_bad_source(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodpi",
            "bench",
            "--source",
            f"replay:{tmp_path}",
            "--frames",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode != 0
    assert str(tmp_path) in result.stderr


def test_the_child_times_another_pipeline_and_returns_every_frame(tmp_path: Path) -> None:
    """What `make bench` asks of it: a pipeline built elsewhere (`--build`), a core, samples."""
    faces = load_fixture_faces(FACES_DIR)
    make_labelled_replay(faces, tmp_path, fps=2.0, segments=[("happy", 2.0), (None, 2.0)], seed=0)
    encoded = replay_frames(tmp_path, 8)
    build = "moodpi.perception.pipeline:build_perception"
    result = run_child(encoded, frames=5, config_path=None, cpu=None, build=build, samples=True)
    assert result["frames"] == 5 and len(result["tops"]) == 5
    assert set(result["tops"]) <= {None, *EMOTIONS}
    assert [len(result["samples_ms"][k]) for k in ("detect_ms", "frame_ms")] == [5, 5]
    assert len(result["samples_ms"]["classify_ms"]) == result["frames_with_face"]
