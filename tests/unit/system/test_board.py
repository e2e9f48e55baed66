"""Board facts read from sysfs-shaped files."""

from pathlib import Path

from moodpi.system.board import cpu_temperature_c, throttle_reasons, throttled_flags


def test_cpu_temperature_is_read_in_degrees(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("48312\n")
    assert cpu_temperature_c(tmp_path / "temp") == 48.312
    assert cpu_temperature_c(tmp_path / "missing") is None
    (tmp_path / "bad").write_text("hot\n")
    assert cpu_temperature_c(tmp_path / "bad") is None


def test_throttle_flags_are_hex(tmp_path: Path) -> None:
    (tmp_path / "get_throttled").write_text("50005\n")
    assert throttled_flags(tmp_path / "get_throttled") == 0x50005
    assert throttled_flags(tmp_path / "nope") is None


def test_throttle_reasons_split_now_from_since_boot() -> None:
    assert throttle_reasons(0) == ([], [])
    now, past = throttle_reasons(0x50005)
    assert now == ["under-voltage now", "throttled now"]
    assert past == ["under-voltage has occurred", "throttling has occurred"]
