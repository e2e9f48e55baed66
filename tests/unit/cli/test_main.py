"""The command line as people type it: options before, between and after the positionals, -v and
--config before the command or after it; and quiet commands (no library chatter without -v)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from moodpi.cli.main import build_parser
from tests.support.environ import child_env

FACE = Path(__file__).resolve().parents[2] / "fixtures" / "faces" / "happy_PublicTest_13119862.png"

# (what a person types, what the command must receive)
FORMS: list[tuple[str, dict[str, Any]]] = [
    ("run --config F --source replay:R --no-audio",
     {"config": "F", "source": "replay:R", "no_audio": True}),
    ("run --source replay:R --loop -c F -v",
     {"config": "F", "source": "replay:R", "loop": True, "verbose": True}),
    ("-v run --events-jsonl - --config F", {"config": "F", "events_jsonl": "-", "verbose": True}),
    ("evaluate --dataset D --json -c F --limit 5",
     {"config": "F", "dataset": "D", "json": True, "limit": 5}),
    ("classify a.png b.png --json --config F", {"config": "F", "images": ["a.png", "b.png"]}),
    ("classify --json a.png -c F b.png", {"config": "F", "images": ["a.png", "b.png"]}),
    ("bench --frames 50 --config F --json", {"config": "F", "frames": 50, "json": True}),
    ("bench --mood R1 R2 --held-out R3 -c F",
     {"config": "F", "mood": ["R1", "R2"], "held_out": ["R3"]}),
    ("config check F", {"action": "check", "file": "F", "config": None}),
    ("config check --config F", {"action": "check", "file": None, "config": "F"}),
    ("config --config F check", {"action": "check", "config": "F"}),
    ("config show F -v", {"action": "show", "file": "F", "verbose": True}),
    ("config example", {"action": "example", "file": None}),
    ("library scan --no-analysis --config F",
     {"action": "scan", "no_analysis": True, "config": "F"}),
    ("library plot --config F out.png", {"action": "plot", "file": "out.png", "config": "F"}),
    ("library plot out.png --config F", {"action": "plot", "file": "out.png", "config": "F"}),
    ("library --config F plot out.svg", {"action": "plot", "file": "out.svg", "config": "F"}),
    ("library --config F show --json", {"action": "show", "json": True, "config": "F"}),
    ("history --since 7 --config F --json", {"since": "7", "json": True, "config": "F"}),
    ("mqtt cleanup --config F", {"action": "cleanup", "config": "F"}),
    ("mqtt --config F cleanup", {"action": "cleanup", "config": "F"}),
    ("doctor --config F", {"config": "F", "verbose": False}),
    ("doctor -v", {"config": None, "verbose": True}),
    ("-v doctor", {"config": None, "verbose": True}),
    ("--config F status --json", {"config": "F", "json": True}),
    ("status --json --config F", {"config": "F", "json": True}),
    ("tail -c F", {"config": "F"}),
    ("snapshot out.jpg --config F --source replay:R",
     {"file": "out.jpg", "config": "F", "source": "replay:R"}),
    ("snapshot --source replay:R out.jpg -c F",
     {"file": "out.jpg", "config": "F", "source": "replay:R"}),
    ("snapshot -c F out.png", {"file": "out.png", "config": "F"}),
]  # fmt: skip


@pytest.mark.parametrize(("typed", "expected"), FORMS, ids=[typed for typed, _ in FORMS])
def test_every_command_form_a_person_types_parses(typed: str, expected: dict[str, Any]) -> None:
    args = vars(build_parser().parse_args(typed.split()))
    assert args["command"] == next(w for w in typed.split() if w[0] != "-" and w != "F")
    assert {key: args.get(key, "<missing>") for key in expected} == expected


@pytest.mark.parametrize(
    "typed",
    ["library plott", "library plot a.png b.png", "classify --json", "doctor extra", "config"],
)
def test_wrong_forms_are_still_usage_errors(typed: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(typed.split())
    assert exit_info.value.code == 2
    assert "usage: moodpi" in capsys.readouterr().err


def test_every_command_takes_config_and_verbose_after_it() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in commands.items():
        options = {s for action in sub._actions for s in action.option_strings}
        assert {"-v", "--verbose", "-c", "--config"} <= options, name


# ---------------------------------------------------------------------------------------------
# Quiet: what C libraries write to fd 2 only with -v

CHATTER = ("XNNPACK", "ALSA lib", " INFO ", "[ WARN", "Hello from the pygame community")


def _moodpi(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moodpi", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(**env),
        check=False,
    )


def test_classify_prints_its_table_and_nothing_else() -> None:
    quiet = _moodpi("classify", str(FACE))
    assert quiet.returncode == 0, quiet.stderr
    assert "1 face" in quiet.stdout and quiet.stderr == ""
    chatty = _moodpi("classify", "-v", str(FACE))
    assert "Created TensorFlow Lite XNNPACK delegate" in chatty.stderr  # the same run, with -v
    assert chatty.stdout == quiet.stdout


def test_library_plot_takes_its_file_after_the_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n[music]\nroot = "{tmp_path}"\n')
    result = _moodpi("library", "plot", "--config", str(config), str(tmp_path / "out.png"))
    assert "unrecognized arguments" not in result.stderr
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.png").is_file()
