"""Rediscovery on its own: a flood of `online` coalesced into one run and one log line."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from moodpi.link.home.rediscovery import Rediscovery


def test_rediscovery_coalesces_a_flood_into_one_run_and_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran = threading.Event()
    runs: list[float] = []

    def publish() -> None:
        runs.append(time.monotonic())
        ran.set()

    rediscovery = Rediscovery(publish, delay_s=(0.01, 0.02), min_interval_s=0.3)
    with caplog.at_level(logging.INFO, logger="moodpi.link.home.rediscovery"):
        for _ in range(1000):
            rediscovery.request()
        assert ran.wait(1.0)
        ran.clear()
        rediscovery.request()  # right after a run: held for min_interval_s, not dropped
        assert ran.wait(2.0)
    rediscovery.close()
    assert rediscovery.requests == 1001 and len(runs) == 2
    assert runs[1] - runs[0] >= 0.29
    assert len(caplog.records) <= 2
