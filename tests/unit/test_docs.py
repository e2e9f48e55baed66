"""The docs a newcomer reads name things that exist: every repository path, the package's folders
in docs/architecture.md, one MQTT password file, the Home Assistant entity ids discovery makes."""

from __future__ import annotations

import re
from pathlib import Path

from moodpi.link.home.entities import DeviceInfo, entities
from moodpi.link.topics import Topics
from tests.support.daemon import REPO
from tests.support.docs import DOCS, named_paths

# Written by the tools the README names (make bench, moodpi bench --distance), not kept in git.
GENERATED = {REPO / "bench" / "bench.png", REPO / "bench" / "distance.png"}


def test_every_path_a_doc_names_exists() -> None:
    missing = [
        f"{doc.relative_to(REPO)}: {path.resolve().relative_to(REPO)}"
        for doc in DOCS
        for path in named_paths(doc)
        if not path.exists() and path not in GENERATED
    ]
    assert not missing, "\n".join(missing)
    assert sum(len(named_paths(doc)) for doc in DOCS) > 50  # the check sees the docs' paths


def test_named_paths_finds_backticked_and_linked_paths(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "x.md"
    doc.parent.mkdir()
    doc.write_text(
        "See `scripts/make_demo.py`, `tests/unit/test_app.py::test_x`, `docs/` and "
        "[the runbook](operations.md#install), [site](https://example.org), `demo/out.raw`, "
        "`device/moodpi/<stage>/`, `/etc/moodpi/config.toml`."
    )
    assert named_paths(doc) == [
        REPO / "scripts/make_demo.py",
        REPO / "tests/unit/test_app.py",
        REPO / "docs/",
        doc.parent / "operations.md",
    ]


def test_the_architecture_map_names_the_packages_modules_and_rooms() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    folders = text.split("## Folders", 1)[1].split("\n## ", 1)[0]
    where = re.findall(r"^\| `([^`]+)` \|", folders, re.MULTILINE)
    assert len(where) >= 10
    missing = [w for w in where if not (REPO / "device" / "moodpi" / w).exists()]
    assert not missing, missing


def test_the_docs_name_one_mqtt_password_file() -> None:
    named = {
        path
        for doc in DOCS
        for path in re.findall(r"/etc/moodpi/mqtt\S*?pass\w*", doc.read_text(encoding="utf-8"))
    }
    assert named == {"/etc/moodpi/mqtt-password"}


def home_assistant_ids(device_name: str) -> set[str]:
    """The entity ids Home Assistant gives the discovered entities: the platform, then the device
    and entity names slugged (Home Assistant's own rule for names that are plain ASCII)."""
    info = DeviceInfo("livingroom", device_name, "1.0", Topics("moodpi/livingroom", "x"))
    return {f"{e.component}.{slug(device_name + ' ' + e.config['name'])}" for e in entities(info)}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def test_every_entity_id_the_docs_name_is_one_discovery_makes() -> None:
    known = home_assistant_ids("moodpi")
    platforms = "|".join(sorted({i.split(".")[0] for i in known}))
    pattern = re.compile(rf"\b(?:{platforms})\.moodpi_\w+")
    named = {
        (doc.name, entity_id)
        for doc in [*DOCS, REPO / "tests" / "manual" / "ha_live_check.py"]
        for entity_id in pattern.findall(doc.read_text(encoding="utf-8"))
    }
    assert len(named) > 20
    assert not {(doc, i) for doc, i in named if i not in known}
