"""`moodpi snapshot`: the one command that writes an image, and only where asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2

from tests.support.daemon import REPO
from tests.support.pace import seconds


def test_snapshot_writes_an_annotated_frame_with_the_face_boxed(
    tmp_path: Path, e2e_replay: Path
) -> None:
    out = tmp_path / "snap.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodpi",
            "snapshot",
            str(out),
            "--source",
            f"replay:{e2e_replay / 'frames'}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "1 face" in result.stdout
    image = cv2.imread(str(out))
    assert image is not None and image.ndim == 3
    # The box is drawn in green on a grey frame: some pixels must be strongly green.
    green = (image[:, :, 1] > 150) & (image[:, :, 0] < 60) & (image[:, :, 2] < 60)
    assert green.sum() > 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.png"]


def test_snapshot_refuses_unknown_image_types(tmp_path: Path, e2e_replay: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodpi",
            "snapshot",
            str(tmp_path / "x.gif"),
            "--source",
            f"replay:{e2e_replay / 'frames'}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        cwd=REPO,
    )
    assert result.returncode == 64
    assert not (tmp_path / "x.gif").exists()
