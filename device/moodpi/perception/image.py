"""Camera images to grey: the one rule every source and the pipeline apply."""

from __future__ import annotations

import cv2
import numpy as np

_CONVERSIONS = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}


def to_grey(image: object) -> np.ndarray:
    """An OpenCV uint8 image, grey (H, W) or (H, W, 1|3|4) with BGR(A) channels, as (H, W) grey.

    Anything else raises ValueError saying what it got; callers count it as a bad frame.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"frame image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"frame image must be uint8, got {image.dtype}")
    if image.ndim == 2:
        return image
    channels = image.shape[2] if image.ndim == 3 else 0
    if channels == 1:
        return image[:, :, 0]
    if channels in _CONVERSIONS:
        return cv2.cvtColor(image, _CONVERSIONS[channels])
    raise ValueError(f"frame image must be (H, W) or (H, W, 1|3|4), got shape {image.shape}")
