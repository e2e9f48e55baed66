"""The entities' templates, rendered the way Home Assistant renders them (sandboxed Jinja,
value_json): never a value outside an enum's options, unknown rather than an error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from moodpi.types import EMOTIONS
from tests.support.home import configs_by_object

jinja2 = pytest.importorskip("jinja2")
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

ENV = ImmutableSandboxedEnvironment()


def render(template: str, payload: dict[str, Any]) -> str:
    text = json.dumps(payload)
    return ENV.from_string(template).render(value=text, value_json=json.loads(text))


@pytest.fixture(scope="module")
def configs() -> dict[str, dict[str, Any]]:
    return configs_by_object()


@pytest.mark.parametrize(
    ("emotion", "expected"),
    [*((e, e) for e in EMOTIONS), ("bored", "None"), (None, "None"), (3, "None")],
)
def test_emotion_template_never_renders_outside_the_options(configs, emotion, expected) -> None:
    assert render(configs["emotion"]["value_template"], {"emotion": emotion}) == expected


def test_emotion_template_without_the_key_is_unknown(configs) -> None:
    assert render(configs["emotion"]["value_template"], {"presence": False}) == "None"


def test_emotion_attributes_carry_confidence_and_probabilities(configs) -> None:
    probabilities = dict.fromkeys(EMOTIONS, 0.1) | {"sad": 0.4}
    state = {"emotion": "sad", "confidence": 0.4, "probabilities": probabilities, "since": 12.5}
    attributes = json.loads(render(configs["emotion"]["json_attributes_template"], state))
    assert attributes == {"confidence": 0.4, "probabilities": probabilities, "since": 12.5}


@pytest.mark.parametrize(("value", "expected"), [(True, "ON"), (False, "OFF"), (None, "None")])
def test_on_off_templates(configs, value, expected) -> None:
    assert render(configs["presence"]["value_template"], {"presence": value}) == expected
    assert render(configs["detection"]["value_template"], {"detection": value}) == expected
    in_use = configs["camera_in_use"]["value_template"]
    assert render(in_use, {"camera_in_use": value}) == expected
    assert render(configs["quiet_hours"]["value_template"], {"quiet_hours": value}) == expected
    assert render(configs["presence"]["value_template"], {}) == "None"


@pytest.mark.parametrize(
    ("audio", "expected"), [(False, "ON"), (True, "OFF"), (None, "OFF"), (0, "OFF")]
)
def test_audio_problem_is_on_only_without_a_sound_device(configs, audio, expected) -> None:
    audio_problem = configs["audio_problem"]
    assert audio_problem["device_class"] == "problem"
    assert audio_problem["entity_category"] == "diagnostic"
    assert render(audio_problem["value_template"], {"audio": audio}) == expected
    assert render(audio_problem["value_template"], {"presence": True}) == "None"  # older daemon


@pytest.mark.parametrize(
    ("library", "expected"),
    [
        ({"tracks": 0, "problem": "music.root /m does not exist (a disk not mounted?)"}, "ON"),
        ({"tracks": 12, "problem": None}, "OFF"),
        ({"tracks": 12}, "OFF"),  # a daemon from before the problem key
        ({"tracks": 1, "problem": 3}, "OFF"),  # garbage is no problem report
        (None, "OFF"),  # no music library: a choice
    ],
)
def test_music_problem_is_on_while_the_music_folder_is_missing_or_empty(
    configs, library, expected
) -> None:
    music = configs["music_problem"]
    assert music["device_class"] == "problem" and music["entity_category"] == "diagnostic"
    assert render(music["value_template"], {"library": library}) == expected
    assert render(music["value_template"], {"presence": True}) == "None"  # older daemon
    attributes = json.loads(render(music["json_attributes_template"], {"library": library}))
    assert attributes == {"problem": (library or {}).get("problem")}


def test_policy_and_volume_templates(configs) -> None:
    assert render(configs["policy"]["value_template"], {"policy": "iso"}) == "iso"
    assert render(configs["policy"]["value_template"], {"policy": "jazz"}) == "None"
    assert render(configs["volume"]["value_template"], {"volume": 55}) == "55"
    assert render(configs["volume"]["value_template"], {"volume": "loud"}) == "None"
    assert render(configs["volume"]["value_template"], {"volume": None}) == "None"


@pytest.mark.parametrize(
    ("now_playing", "expected"),
    [
        ({"title": "Clair de lune", "category": "calming", "path": "/m/c.ogg"}, "Clair de lune"),
        ("Artist – Song", "Artist – Song"),
        (None, "None"),
        ({"category": "calming"}, "None"),
        ({"title": "x" * 1000}, "x" * 255),  # Home Assistant rejects states over 255 characters
        (42, "None"),
    ],
)
def test_now_playing_template(configs, now_playing, expected) -> None:
    assert (
        render(configs["now_playing"]["value_template"], {"now_playing": now_playing}) == expected
    )


def test_now_playing_attributes(configs) -> None:
    track = {"title": "T", "category": "calming", "path": "/music/calming/t.ogg"}
    template = configs["now_playing"]["json_attributes_template"]
    state = {"now_playing": track, "player": "playing"}
    assert json.loads(render(template, state)) == {"category": "calming", "player": "playing"}
    assert json.loads(render(template, {"now_playing": None})) == {"category": None, "player": None}


def test_diagnostic_templates(configs) -> None:
    assert render(configs["fps"]["value_template"], {"fps": 9.8}) == "9.8"
    assert render(configs["cpu_temperature"]["value_template"], {"cpu_temp_c": 51.5}) == "51.5"
    assert render(configs["cpu_temperature"]["value_template"], {"fps": 9.8}) == "None"  # not a Pi


def test_event_template_turns_mood_events_into_home_assistant_events(configs) -> None:
    template = configs["mood_change"]["value_template"]
    mood = {
        "type": "mood",
        "seq": 7,
        "t": 3.2,
        "at": "2025-01-01T00:00:00.000Z",
        "emotion": "sad",
        "confidence": 0.7,
    }
    event = json.loads(render(template, mood))
    assert event == {
        "event_type": "sad",
        "confidence": 0.7,
        "seq": 7,
        "at": "2025-01-01T00:00:00.000Z",
    }
    # Presence events share the topic; an empty rendering is ignored by the event platform.
    assert render(template, {"type": "presence", "seq": 8, "present": False}) == ""
    assert render(template, {"type": "mood", "seq": 9, "emotion": "bored"}) == ""


@pytest.mark.parametrize(("faces", "expected"), [(0, "0"), (3, "3"), (None, "None"), ("x", "None")])
def test_face_count_sensor(configs, faces, expected) -> None:
    sensor = configs["faces"]
    assert sensor["state_topic"] == "moodpi/kitchen_pi/state"
    assert sensor["state_class"] == "measurement"  # a number Home Assistant can graph
    assert render(sensor["value_template"], {"faces": faces}) == expected


def test_music_analysed_sensor_reads_the_library_progress(configs) -> None:
    sensor = configs["library_analysed"]
    assert sensor["entity_category"] == "diagnostic"
    progress = {"tracks": 5000, "analysed": 812, "failed": 3, "running": True, "eta_s": 860.0}
    assert render(sensor["value_template"], {"library": progress}) == "812"
    assert json.loads(render(sensor["json_attributes_template"], {"library": progress})) == progress
    assert render(sensor["value_template"], {"library": None}) == "None"
