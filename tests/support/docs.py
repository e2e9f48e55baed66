"""Reading the project's Markdown as a reader would: its fenced code blocks by language, and the
repository paths it names, so tests can hold the docs to what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.daemon import REPO

_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A backticked path that starts in one of the repository's tracked top folders, without blanks,
# globs or placeholders (`demo/`, `build/`, `train-runs/` are made by the tools, not in git).
_TOP = r"(?:device|docs|deploy|scripts|tests|models|systemd|bench)/"
_PATH = re.compile(rf"`({_TOP}[^`\s*<>{{}}…]*)`")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")

# The documents a newcomer reads (README.md, docs/, the models' card), whose paths must exist.
DOCS = (
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "models" / "README.md",
)


def code_blocks(doc: Path, language: str) -> list[str]:
    """The bodies of the fenced blocks of `doc` marked with `language`, in order."""
    text = doc.read_text(encoding="utf-8")
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def named_paths(doc: Path) -> list[Path]:
    """The repository paths `doc` names: in backticks from the repository's root
    (`scripts/make_demo.py`; a `::test` or `:line` suffix dropped) and as link targets from the
    doc's own folder (`[mqtt.md](mqtt.md)`, `../deploy/install.sh`); web links left out."""
    text = doc.read_text(encoding="utf-8")
    named = [REPO / re.split(r"::|:(?=\d)", raw)[0] for raw in _PATH.findall(text)]
    links = [t for t in _LINK.findall(text) if not re.match(r"[a-z]+:", t)]
    return named + [doc.parent / target for target in links]
