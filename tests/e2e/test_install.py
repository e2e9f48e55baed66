"""deploy/install.sh and uninstall.sh in a throwaway root (DESTDIR); shellcheck on every script."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from moodpi import config as cfg

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"
UNINSTALL = REPO / "deploy" / "uninstall.sh"

Tree = dict[str, tuple[str, str]]  # relative path → (mode, content hash or link target)


def _run(script: Path, *args: str, destdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "SUDO_USER")}
    if destdir is not None:
        env["DESTDIR"] = str(destdir)
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = _run(INSTALL, "--no-venv", *args, destdir=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _tree(root: Path) -> Tree:
    found: Tree = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        mode = oct(path.lstat().st_mode)
        if path.is_symlink():
            found[rel] = (mode, "-> " + os.readlink(path))
        elif path.is_file():
            found[rel] = (mode, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            found[rel] = (mode, "dir")
    return found


def _categories() -> set[str]:
    text = INSTALL.read_text()
    block = re.search(r"CATEGORIES=\(([^)]*)\)", text)
    assert block
    return set(block.group(1).split())


def test_install_produces_the_expected_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _install(root)
    tree = _tree(root)
    for model in (REPO / "models").iterdir():
        if model.is_file():
            assert (root / "opt/moodpi/models" / model.name).read_bytes() == model.read_bytes()
    unit = root / "etc/systemd/system/moodpi.service"
    assert unit.read_text() == (REPO / "systemd/moodpi.service").read_text()
    assert tree["usr/local/bin/moodpi"][1] == "-> /opt/moodpi/venv/bin/moodpi"
    assert (root / "opt/moodpi/config.example.toml").read_text() == (
        REPO / "deploy/config.example.toml"
    ).read_text()
    assert os.access(root / "opt/moodpi/uninstall.sh", os.X_OK)
    assert not (root / "opt/moodpi/venv").exists()  # --no-venv

    config_file = root / "etc/moodpi/config.toml"
    assert tree["etc/moodpi/config.toml"][0] == oct(0o100640)
    config = cfg.load(config_file, environ={})
    assert config.state_dir == "/var/lib/moodpi"
    assert config.models_dir == "/opt/moodpi/models"
    assert config.music.root == "/var/lib/moodpi/music"
    assert tree["var/lib/moodpi"][0] == oct(0o40750)
    music = root / "var/lib/moodpi/music"
    assert {p.name for p in music.iterdir()} == _categories()
    assert tree["var/lib/moodpi/music/happy"][0] == oct(0o42775)  # setgid, group-writable


def test_music_folders_cover_every_mapped_category() -> None:
    mapped = set(cfg.MIRROR_MAP.values()) | set(cfg.UPLIFT_MAP.values())
    assert _categories() == mapped


def test_install_twice_gives_the_same_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _install(root)
    first = _tree(root)
    second_run = _install(root)
    assert _tree(root) == first
    assert "keeping existing /etc/moodpi/config.toml" in second_run.stdout


def test_install_never_overwrites_an_existing_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    config_file = root / "etc/moodpi/config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text('[mqtt]\nhost = "broker.lan"\n')
    _install(root)
    assert config_file.read_text() == '[mqtt]\nhost = "broker.lan"\n'


def test_install_with_another_prefix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _install(root, "--prefix", "/srv/moodpi")
    unit = (root / "etc/systemd/system/moodpi.service").read_text()
    assert "ExecStart=/srv/moodpi/venv/bin/moodpi run --config /etc/moodpi/config.toml" in unit
    assert "/opt/moodpi" not in unit
    assert cfg.load(root / "etc/moodpi/config.toml", environ={}).models_dir == "/srv/moodpi/models"
    assert os.readlink(root / "usr/local/bin/moodpi") == "/srv/moodpi/venv/bin/moodpi"


def test_install_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = _run(INSTALL, "--dry-run", "--no-venv", destdir=root)
    assert result.returncode == 0, result.stderr
    assert not root.exists()
    assert "[dry-run] install -d -m 0750" in result.stdout
    assert "[dry-run] write" in result.stdout


def test_install_dry_run_on_the_real_system_changes_nothing(tmp_path: Path) -> None:
    """Without DESTDIR, --dry-run shows the whole install (packages, user, venv) and does none."""
    prefix = tmp_path / "opt"
    result = _run(INSTALL, "--dry-run", "--prefix", str(prefix))
    assert result.returncode == 0, result.stderr
    assert not prefix.exists()
    out = result.stdout
    assert "-m venv --system-site-packages" in out
    assert "pip install --upgrade --constraint" in out
    assert "moodpi.cli.doctor --smoke" in out
    assert ("useradd" in out or "usermod" in out) or not shutil.which("useradd")


def test_install_rejects_bad_options(tmp_path: Path) -> None:
    assert _run(INSTALL, "--bogus", destdir=tmp_path).returncode != 0
    assert _run(INSTALL, "--prefix", 'relative"path', destdir=tmp_path).returncode != 0
    assert _run(INSTALL, "--help").returncode == 0


def test_uninstall_keeps_config_and_music_unless_purged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _install(root)
    track = root / "var/lib/moodpi/music/happy/song.ogg"
    track.write_bytes(b"OggS")
    (root / "etc/systemd/system/moodpi.service.d").mkdir()

    before = _tree(root)
    dry = _run(UNINSTALL, "--dry-run", destdir=root)
    assert dry.returncode == 0 and "[dry-run] rm" in dry.stdout
    assert _tree(root) == before

    result = _run(UNINSTALL, destdir=root)
    assert result.returncode == 0, result.stderr
    assert not (root / "opt/moodpi").exists()
    assert not (root / "etc/systemd/system/moodpi.service").exists()
    assert not (root / "usr/local/bin/moodpi").is_symlink()
    assert (root / "etc/moodpi/config.toml").is_file()
    assert track.read_bytes() == b"OggS"
    assert (root / "etc/systemd/system/moodpi.service.d").is_dir()  # the admin's drop-ins

    purge = _run(UNINSTALL, "--purge", destdir=root)
    assert purge.returncode == 0, purge.stderr
    assert not (root / "etc/moodpi").exists()
    assert not (root / "var/lib/moodpi").exists()
    assert not (root / "etc/systemd/system/moodpi.service.d").exists()


def test_uninstall_with_a_wrong_prefix_removes_only_its_own_items(tmp_path: Path) -> None:
    root = tmp_path / "root"
    bystander = root / "usr/bin/python3"
    bystander.parent.mkdir(parents=True)
    bystander.write_text("not ours")
    result = _run(UNINSTALL, "--prefix", "/usr", destdir=root)
    assert result.returncode == 0, result.stderr
    assert bystander.read_text() == "not ours"


def _shell_scripts() -> list[Path]:
    skip = {"node_modules", "build", "dist", "demo", "train-runs"}  # git-ignored scratch
    found = []
    for path in REPO.rglob("*"):
        parts = set(path.relative_to(REPO).parts)
        hidden = any(p.startswith(".") and p not in (".ci", ".github") for p in parts)
        if parts & skip or hidden or not path.is_file():
            continue
        if path.suffix in (".sh", ".bash"):
            found.append(path)
        elif path.suffix == "" and path.stat().st_size < 1_000_000:
            with path.open("rb") as f:
                first = f.readline(80)
            if re.match(rb"#!.*\b(ba|da)?sh\b", first):
                found.append(path)
    return sorted(found)


def test_shellcheck_is_clean_on_every_shell_script() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck missing (make test-deps installs it)")
    scripts = _shell_scripts()
    assert INSTALL in scripts and UNINSTALL in scripts
    result = subprocess.run(
        [shellcheck, "--severity=style", *map(str, scripts)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout
