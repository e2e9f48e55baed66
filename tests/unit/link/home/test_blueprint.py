"""The Home Assistant blueprint in docs/blueprints/, parsed as Home Assistant parses it: YAML with
`!input` tags, checked against the automation blueprint's schema (homeassistant/components/
blueprint/schemas.py: a `blueprint` block with name, domain and inputs, each input a mapping of
name, description, default, selector), every `!input` declared, and its templates rendered with
Jinja for each mood."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from moodpi.types import EMOTIONS

DOCS = Path(__file__).resolve().parents[4] / "docs"
BLUEPRINT = DOCS / "blueprints" / "moodpi_music_assistant.yaml"
SELECTORS = {"entity", "number", "select", "text", "boolean", "duration", "target", "device"}
INPUT_KEYS = {"name", "description", "default", "selector"}


class Input(str):
    """An `!input NAME` reference."""


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!input", lambda loader, node: Input(loader.construct_scalar(node)))


def _load(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_Loader)  # SafeLoader plus the one tag
    assert isinstance(data, dict)
    return data


def _references(node: Any) -> set[str]:
    if isinstance(node, Input):
        return {str(node)}
    if isinstance(node, dict):
        return set().union(*(_references(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_references(v) for v in node)) if node else set()
    return set()


@pytest.fixture(scope="module")
def blueprint() -> dict[str, Any]:
    return _load(BLUEPRINT.read_text(encoding="utf-8"))


def test_blueprint_block_follows_the_schema(blueprint: dict[str, Any]) -> None:
    meta = blueprint["blueprint"]
    assert isinstance(meta["name"], str) and meta["name"]
    assert meta["domain"] == "automation"
    assert isinstance(meta["homeassistant"]["min_version"], str)
    for name, spec in meta["input"].items():
        assert isinstance(name, str) and isinstance(spec, dict), name
        assert set(spec) <= INPUT_KEYS, (name, set(spec) - INPUT_KEYS)
        (kind,) = spec["selector"]
        assert kind in SELECTORS, (name, kind)


def test_every_input_is_declared_and_every_mood_has_one(blueprint: dict[str, Any]) -> None:
    declared = set(blueprint["blueprint"]["input"])
    body = {k: v for k, v in blueprint.items() if k != "blueprint"}
    used = _references(body)
    assert used <= declared, used - declared
    assert declared <= used, declared - used  # no input the automation ignores
    assert {f"playlist_{e}" for e in EMOTIONS} <= declared
    assert set(blueprint["variables"]["playlists"]) == set(EMOTIONS)


def test_automation_body_plays_on_music_assistant(blueprint: dict[str, Any]) -> None:
    (trigger,) = blueprint["triggers"]
    assert trigger["trigger"] == "state" and trigger["entity_id"] == Input("mood_sensor")
    assert blueprint["mode"] in {"single", "restart", "queued", "parallel"}
    (action,) = blueprint["actions"]
    assert action["action"] == "music_assistant.play_media"
    assert action["target"]["entity_id"] == Input("player")
    assert action["data"]["media_type"] == "playlist"
    enqueue = blueprint["blueprint"]["input"]["enqueue"]["selector"]["select"]["options"]
    assert set(enqueue) <= {"play", "replace", "next", "replace_next", "add"}


@pytest.mark.parametrize("mood", EMOTIONS)
def test_templates_choose_the_mood_s_playlist(blueprint: dict[str, Any], mood: str) -> None:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    chosen = {e: f"moodpi {e}" if e != "neutral" else "" for e in EMOTIONS}
    trigger = {"to_state": {"state": mood}}
    variables = blueprint["variables"]
    playlist = env.from_string(variables["playlist"]).render(
        playlists=chosen, mood=env.from_string(variables["mood"]).render(trigger=trigger)
    )
    assert playlist == chosen[mood]
    condition = blueprint["conditions"][0]["value_template"]
    assert env.from_string(condition).render(playlist=playlist) == str(playlist != "")


def test_a_loader_without_the_tag_would_reject_it() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load(BLUEPRINT.read_text(encoding="utf-8"))
