"""The schema (moodpi.config.schema): every number bounded, sections frozen."""

from __future__ import annotations

import msgspec
import pytest

from moodpi import config as cfg


def test_every_number_is_bounded_so_nan_and_inf_are_rejected() -> None:
    for key, default, meta in cfg.iter_fields():
        if isinstance(default, float):
            assert "min" in meta and "max" in meta, key
            for bad in (float("nan"), float("inf"), float("-inf")):
                section, leaf = key.split(".") if "." in key else ("", key)
                data = {section: {leaf: bad}} if section else {leaf: bad}
                with pytest.raises(cfg.ConfigError, match="not a finite number"):
                    cfg.from_dict(data)


def test_sections_are_frozen_and_replaced_by_name() -> None:
    config = cfg.Config()
    with pytest.raises(AttributeError):
        config.camera.fps = 5.0  # type: ignore[misc]
    changed = msgspec.structs.replace(config.camera, fps=5.0)
    assert changed.fps == 5.0 and config.camera.fps == 10.0
    with pytest.raises(TypeError):
        cfg.CameraConfig("auto")  # type: ignore[misc]
