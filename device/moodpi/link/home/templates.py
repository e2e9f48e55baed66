"""Home Assistant templates over moodpi's state and event JSON (discovery.py uses them).

Each renders None (Home Assistant: unknown) rather than failing when a key is missing or has
the wrong type, so an older or newer moodpi never breaks an entity.
"""

from __future__ import annotations

from moodpi.types import EMOTIONS


def choice_template(key: str, options: tuple[str, ...]) -> str:
    """Render the value when it is one of `options`, else None (Home Assistant: unknown)."""
    listed = ", ".join(f"'{o}'" for o in options)
    return f"{{{{ value_json.{key} if value_json.{key} in [{listed}] else None }}}}"


def number_template(key: str) -> str:
    return f"{{{{ value_json.{key} if value_json.{key} is number else None }}}}"


def on_off_template(key: str) -> str:
    return (
        f"{{{{ None if value_json.{key} is not defined or value_json.{key} is none "
        f"else ('ON' if value_json.{key} else 'OFF') }}}}"
    )


# ON only when the daemon plays without a sound device (audio false); sound switched off on
# purpose (null) or no music (null) is no problem.
AUDIO_PROBLEM_TEMPLATE = (
    "{{ None if value_json.audio is not defined else "
    "('ON' if value_json.audio is sameas false else 'OFF') }}"
)

# ON while the music folder is missing or holds nothing playable (`library.problem`, a text);
# no music library (library null) is a choice, not a problem; an older daemon: unknown.
MUSIC_PROBLEM_TEMPLATE = (
    "{{ None if value_json.library is not defined else "
    "('ON' if value_json.library is mapping and value_json.library.get('problem') is string "
    "and value_json.library.get('problem') else 'OFF') }}"
)
MUSIC_PROBLEM_ATTRIBUTES_TEMPLATE = (
    "{{ {'problem': value_json.library.get('problem') if value_json.library is mapping "
    "else None} | tojson }}"
)

# Mood events become Home Assistant events; presence events on the same topic render empty,
# which the event platform ignores.
EVENT_TEMPLATE = (
    "{% if value_json.type == 'mood' and value_json.emotion in ["
    + ", ".join(f"'{e}'" for e in EMOTIONS)
    + "] %}{{ {'event_type': value_json.emotion, 'confidence': value_json.get('confidence'), "
    "'seq': value_json.get('seq'), 'at': value_json.get('at')} | tojson }}{% endif %}"
)

EMOTION_ATTRIBUTES_TEMPLATE = (
    "{{ {'confidence': value_json.get('confidence'), "
    "'probabilities': value_json.get('probabilities'), "
    "'since': value_json.get('since')} | tojson }}"
)

# `now_playing` is {title, category, path} or null (a plain string is accepted too). A sensor
# state longer than 255 characters is rejected by Home Assistant.
NOW_PLAYING_TEMPLATE = (
    "{% set np = value_json.now_playing %}"
    "{% set title = np.get('title') if np is mapping else np %}"
    "{{ title[:255] if title is string and title else None }}"
)
NOW_PLAYING_ATTRIBUTES_TEMPLATE = (
    "{% set np = value_json.now_playing %}"
    "{{ {'category': np.get('category') if np is mapping else None, "
    "'player': value_json.get('player')} | tojson }}"
)

# `library` is {tracks, analysed, failed, running, eta_s} or null (no music library).
LIBRARY_TEMPLATE = "{{ value_json.library.analysed if value_json.library else None }}"
LIBRARY_ATTRIBUTES_TEMPLATE = "{{ value_json.library | tojson if value_json.library else {} }}"
