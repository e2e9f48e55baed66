"""Commands in: what the parser accepts and rejects."""

from __future__ import annotations

from typing import Any

import pytest

from moodpi.link.commands import CommandRejected, validate_command
from tests.support.home import configs_by_object


@pytest.fixture(scope="module")
def configs() -> dict[str, dict[str, Any]]:
    return configs_by_object()


def test_validate_command_rejects_what_discovery_never_sends() -> None:
    with pytest.raises(CommandRejected):
        validate_command("policy", b"jazz", False)


def test_quiet_hours_switch_commands_reach_the_daemon_as_booleans(configs) -> None:
    topic = configs["quiet_hours"]["command_topic"]
    assert topic == "moodpi/kitchen_pi/cmd/quiet_hours"
    assert validate_command("quiet_hours", b"ON", False).value is True
    assert validate_command("quiet_hours", b"off", False).value is False
    with pytest.raises(CommandRejected):
        validate_command("quiet_hours", b"tonight", False)
