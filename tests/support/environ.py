"""The environment moodpi runs in under test: this checkout, and no MOODPI__ override that the
developer's shell happens to export."""

from __future__ import annotations

import os

import pytest

from tests.support.daemon import REPO


def child_env(drop: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """For `python -m moodpi ...` in a child process: this checkout importable, no overrides, no
    variable whose name starts with one of `drop` (RUNTIME_DIR: the status file's own folder),
    and the `extra` ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOODPI__", *drop))}
    env["PYTHONPATH"] = str(REPO / "device")
    return env | extra


def drop_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """No override reaches the config this process loads (`main()` called in the test)."""
    for name in [n for n in os.environ if n.startswith("MOODPI__")]:
        monkeypatch.delenv(name)
