"""Smoke tests of scripts/bench.py and scripts/soak.py with tiny durations, and the soak verdict."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.broker import mosquitto_binary
from tests.support.daemon import REPO


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"script_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


soak = load_script("soak")


def series(
    n: int = 40, rss_kb: int = 100_000, fds: int = 14, threads: int = 8, lag_s: float = 0.4
) -> list:
    return [
        soak.Sample(
            t_s=5.0 * i,
            rss_kb=rss_kb,
            fds=fds,
            threads=threads,
            lag_s=lag_s,
            frames=100 * i,
            moods=i,
            state="running",
        )
        for i in range(n)
    ]


def test_a_steady_run_passes() -> None:
    verdict = soak.evaluate(series(), warmup_s=20.0, rss_growth_pct=5.0)
    assert verdict["ok"], verdict["failures"]
    assert verdict["rss_growth_pct"] == 0.0


def test_a_leaking_fd_fails_but_a_passing_thread_does_not() -> None:
    samples = series()
    for i, s in enumerate(samples):
        s.fds = 14 + i // 4  # one more fd every 20 s
    samples[-5].threads = 9  # a fade thread that comes and goes
    verdict = soak.evaluate(samples, warmup_s=20.0, rss_growth_pct=5.0)
    assert not verdict["ok"]
    assert verdict["trends"]["fds"]["rising"] and not verdict["trends"]["threads"]["rising"]
    assert any("fds keep rising" in f for f in verdict["failures"])


def test_rss_growth_over_the_limit_fails_and_a_stalled_loop_fails() -> None:
    samples = series()
    for i, s in enumerate(samples):
        s.rss_kb = 100_000 + 300 * i  # about +11 % by the end
    samples[30].lag_s = 12.0
    verdict = soak.evaluate(samples, warmup_s=20.0, rss_growth_pct=5.0)
    assert any("RSS grew" in f for f in verdict["failures"])
    assert any("stalled" in f for f in verdict["failures"])


def test_durations_parse() -> None:
    assert soak.parse_duration("30m") == 1800.0
    assert soak.parse_duration("1.5h") == 5400.0
    assert soak.parse_duration("45") == 45.0
    with pytest.raises(Exception, match="not a duration"):
        soak.parse_duration("ten minutes")


@pytest.mark.slow
@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed")
def test_soak_script_runs_the_daemon_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [
            *(sys.executable, "scripts/soak.py", "--duration", "4s", "--sample-s", "0.5"),
            *("--music-seconds", "0.5", "--out", str(out), "--work-dir", str(tmp_path / "work")),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["ok"] and result["exit_code"] == 0 and result["stop_s"] < 5
    assert result["frames_processed"] > 50 and result["mood_changes"] > 0
    assert result["samples"] >= 4 and result["series"][0]["rss_kb"] > 10_000
    assert result["mqtt"]["connected"] is True
    assert "frames processed" in proc.stdout


@pytest.mark.slow
def test_bench_script_compares_both_pipelines(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [
            *(sys.executable, "scripts/bench.py", "--frames", "6", "--paced-s", "0.3"),
            *("--paced-fps", "10", "--out", str(out)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for name in ("seed", "moodpi"):
        p = result["pipelines"][name]
        assert p["frames"] == 6 and p["frame_ms"]["median"] > 0 and p["peak_rss_mb"] > 10
        assert p["paced"]["10"]["cpu_pct"] > 0
    ratios = result["ratios_moodpi_over_seed"]
    assert ratios["frame_ms_median"] is not None and ratios["cpu_pct_at_10fps"] is not None
    png = out.with_name("bench.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sustained frames/s" in proc.stdout
