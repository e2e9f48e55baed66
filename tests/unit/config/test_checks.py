"""Checks across a field's value (moodpi.config.checks): hosts a broker can be reached at pass;
the hostile ones are refused by `config check` and `run` alike (tests/unit/cli/test_config.py)."""

from __future__ import annotations

import sys

import pytest

from moodpi import config as cfg


@pytest.mark.parametrize("host", ["broker.lan", "10.0.0.2", "::1", "fe80::1%eth0", "my_broker"])
def test_good_hosts_pass(host: str) -> None:
    if "%" in host and sys.version_info < (3, 9):
        pytest.skip("scoped IPv6 addresses need Python 3.9")
    assert cfg.from_dict({"mqtt": {"host": host}}).mqtt.host == host
