"""What every part of the config stands on: the error that names a key, the exit status, where
models and state live by default, `doc()` for a field's doc and bounds, the text types."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from moodpi.types import Emotion

EX_CONFIG = 78  # sysexits.h: configuration error; the unit tells systemd not to restart on it
ENV_PREFIX = "MOODPI__"
REPO_ROOT = Path(__file__).resolve().parents[3]


class ConfigError(ValueError):
    """A configuration value is invalid; `key` is its dotted name. One error may stand for
    several (`ConfigError.of`): `key` is then the first, `problems` holds every (key, reason)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config error at '{key}': {message}")
        self.key = key
        self.problems: tuple[tuple[str, str], ...] = ((key, message),)

    @classmethod
    def of(cls, errors: Sequence[ConfigError]) -> ConfigError:
        """Every error at once: one names itself as before, several are listed a line each."""
        if len(errors) == 1:
            return errors[0]
        problems = tuple(p for error in errors for p in error.problems)
        combined = cls(*problems[0])
        combined.problems = problems
        lines = "".join(f"\n  at '{key}': {message}" for key, message in problems)
        combined.args = (f"{len(problems)} config errors:{lines}",)
        return combined


def default_models_dir() -> Path:
    """Where the bundled models live: $MOODPI_MODELS_DIR, the package's own (moodpi/models: in
    the wheel, a link to models/ in a checkout), the checkout's models/, or /opt/moodpi."""
    env = os.environ.get("MOODPI_MODELS_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1] / "models"
    for candidate in (package, REPO_ROOT / "models", Path("/opt/moodpi/models")):
        if candidate.is_dir():
            return candidate.resolve()
    return REPO_ROOT / "models"


def default_state_dir() -> Path:
    """systemd's $STATE_DIRECTORY when run as the service, else the XDG state home."""
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "moodpi"


def doc(
    text: str, ge: float | None = None, le: float | None = None, **extra: object
) -> msgspec.Meta:
    """Meta of a field: its one-line doc and bounds (ge: minimum, le: maximum). Extras:
    `path=PREFIX` marks a file or folder: a relative value in a config file (after PREFIX) is
    relative to that file (model names are not paths: they are relative to models_dir);
    `secret=True` masks the value in `moodpi config show`."""
    return msgspec.Meta(description=text, ge=ge, le=le, extra=extra or None)


# Text has no NUL characters, nor lone surrogates (how undecodable bytes of a variable arrive),
# and is short: a 70,000-character topic or host once killed paho's network thread.
MAX_TEXT_CHARS = 4096
Text = Annotated[str, msgspec.Meta(pattern=r"^[^\x00\ud800-\udfff]*$", max_length=MAX_TEXT_CHARS)]
# A category is a folder name under music.root: not empty, no separators, not hidden nor '..'.
CATEGORY_PATTERN = r"^[^./\\\x00][^/\\\x00]*$"
Category = Annotated[str, msgspec.Meta(pattern=CATEGORY_PATTERN)]
EmotionMap = dict[Emotion, Category]
LogLevel = Literal["debug", "info", "warning", "error"]
