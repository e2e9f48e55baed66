"""OpenCV's Haar cascade face detector: the dependency-light alternative to BlazeFace.

The rule here: everything that differs between OpenCV builds is found out at open(), not at
import, and said plainly. OpenCV 5 moved CascadeClassifier to the contrib build and no longer
ships the cascade files, so a missing class or file is a HaarUnavailable naming the fix (the
contrib wheel, a bundled cascade in models/, or faces.haar_cascade), never an AttributeError.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodpi.types import Face

HAAR_CASCADE = "haarcascade_frontalface_default.xml"


class HaarUnavailable(RuntimeError):
    """This OpenCV build has no cascade classifier, or no cascade file was found."""


def haar_cascade_path(name: str = HAAR_CASCADE, extra_dirs: Sequence[Path] = ()) -> Path:
    """Find a cascade file: in `extra_dirs` (e.g. the models dir), then in the cv2 package.

    OpenCV 4 ships the cascades in cv2.data.haarcascades; OpenCV 5 keeps the cv2.data module but
    no longer the files, so a cascade must then be bundled (models/) or named by path.
    """
    data = getattr(cv2, "data", None)
    package_dir = Path(cv2.__file__).parent
    own = Path(data.haarcascades) if data is not None else package_dir / "data"
    folders = [*extra_dirs, own]
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    found = sorted(package_dir.rglob(name))
    if found:
        return found[0]
    raise HaarUnavailable(
        f"Haar cascade {name} not found in {', '.join(map(str, folders))} or the cv2 package "
        "(OpenCV 5 no longer ships it): set faces.haar_cascade to the XML file"
    )


class HaarDetector:
    """OpenCV's Viola-Jones frontal-face cascade. Scores are 1.0 (the cascade gives none)."""

    def __init__(
        self,
        cascade_path: str | Path | None = None,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size_px: int = 24,
    ) -> None:
        self.cascade_path = Path(cascade_path) if cascade_path else None
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size_px = min_size_px
        self._cascade: Any = None

    def open(self) -> None:
        if self._cascade is not None:
            return
        if not hasattr(cv2, "CascadeClassifier"):
            # OpenCV 5 moved it to the contrib build.
            raise HaarUnavailable(
                f"OpenCV {cv2.__version__} has no CascadeClassifier: install "
                "opencv-contrib-python-headless or opencv-python-headless<5, or use blazeface"
            )
        path = self.cascade_path or haar_cascade_path()
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise ValueError(f"cannot load Haar cascade {path}")
        self._cascade = cascade

    def close(self) -> None:
        self._cascade = None

    def detect(self, grey: np.ndarray, lores: np.ndarray | None = None) -> list[Face]:
        """Faces in a (H, W) uint8 frame, largest first; `lores` is not needed for one pass."""
        self.open()
        found = self._cascade.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size_px, self.min_size_px),
        )
        faces = [Face(int(x), int(y), int(w), int(h), 1.0) for x, y, w, h in found]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def scan(self, grey: np.ndarray) -> list[Face]:
        return self.detect(grey)

    @property
    def name(self) -> str:
        return "HaarDetector"

    def reset(self) -> None:
        """Nothing to forget: every frame is looked at afresh."""

    def sweep_frames(self, width: int, height: int) -> int:
        """One frame sees the whole frame."""
        return 1
