"""Reading the files a config names (moodpi.config.files): the config itself only when it is a
small regular UTF-8 file (issue 18), and the TLS and password files `check_files` accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodpi import config as cfg
from tests.support.hostile_configs import make_ca, make_fifo, write_file


def test_a_config_file_that_is_a_fifo_or_a_device_is_refused_at_once(tmp_path: Path) -> None:
    for target in (make_fifo(tmp_path), Path("/dev/zero"), tmp_path):
        with pytest.raises(cfg.ConfigError) as info:
            cfg.load(target, environ={})
        assert str(target) in str(info.value) and "not a regular file" in str(info.value)


def test_an_oversized_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * (2 << 20) + "\n")
    with pytest.raises(cfg.ConfigError, match="over the limit"):
        cfg.load(path, environ={})


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf[camera]\r\nfps = 12\r\n")
    assert cfg.load(path, environ={}).camera.fps == 12.0


def test_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'device_name = "caf\xe9"\n')
    with pytest.raises(cfg.ConfigError, match="not UTF-8 text"):
        cfg.load(path, environ={})


def test_good_tls_files_pass_check_files(tmp_path: Path) -> None:
    password = write_file(tmp_path, "password", "secret\n")
    config = cfg.from_dict(
        {
            "state_dir": str(tmp_path / "state"),
            "mqtt": {"host": "b", "tls_ca": make_ca(tmp_path), "password_file": str(password)},
        }
    )
    cfg.check_files(config)
    from moodpi.link.client import read_password

    assert read_password(config.mqtt) == "secret"
