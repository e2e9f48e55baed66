"""Labelled replays' truth files (scripts/make_replay.py's truth.json), written by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Four segments at 10 fps: happy, an empty room, sad, angry.
TRUTH = {
    "fps": 10.0,
    "segments": [
        {"emotion": "happy", "start_s": 0.0, "end_s": 10.0},
        {"emotion": None, "start_s": 10.0, "end_s": 16.0},
        {"emotion": "sad", "start_s": 16.0, "end_s": 26.0},
        {"emotion": "angry", "start_s": 26.0, "end_s": 34.0},
    ],
}


def write_truth(folder: Path, truth: Any) -> Path:
    """`truth` (anything JSON can hold, good or bad) as folder/truth.json; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    return folder
