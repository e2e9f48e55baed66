"""The JSON documents the link publishes: `<base>/state` from a snapshot, and JSON that Home
Assistant accepts (no NaN or infinities, stable key order)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from moodpi.state import Snapshot


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: Home Assistant's parser would reject the whole message."""
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(
        _finite(data), sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")
    )


def state_payload(snapshot: Snapshot) -> dict[str, Any]:
    """The retained `<base>/state` document (docs/mqtt.md); Home Assistant's templates read it."""
    mood, music = snapshot.mood, snapshot.music
    return {
        "emotion": mood.emotion if mood else None,
        "confidence": mood.confidence if mood else None,
        "probabilities": dict(snapshot.probabilities),
        "presence": snapshot.presence,
        "faces": snapshot.faces,
        "since": mood.since_t if mood else None,
        "detection": snapshot.detection,
        "camera_in_use": snapshot.camera_in_use,
        "quiet_hours": snapshot.quiet_hours.enabled,
        "quiet_hours_active": snapshot.quiet_hours.active,
        "policy": music.policy,
        "now_playing": asdict(music.now_playing) if music.now_playing else None,
        "volume": music.volume,
        "player": music.player,
        "audio": music.audio,
        "library": asdict(music.library) if music.library else None,
    }
