"""deploy/install.sh and uninstall.sh in a throwaway root (DESTDIR); shellcheck on every script."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from moodpi import config as cfg

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"
UNINSTALL = REPO / "deploy" / "uninstall.sh"
CONSTRAINTS = REPO / "deploy" / "constraints-system-numpy.txt"

Tree = dict[str, tuple[str, str]]  # relative path → (mode, content hash or link target)


def _run(
    script: Path, *args: str, destdir: Path | None = None, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "SUDO_USER")}
    env.update(extra_env)
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
    shipped = root / "opt/moodpi/constraints-system-numpy.txt"
    assert shipped.read_text() == CONSTRAINTS.read_text()
    assert not (root / "opt/moodpi/venv").exists()  # --no-venv

    config_file = root / "etc/moodpi/config.toml"
    assert tree["etc/moodpi/config.toml"][0] == oct(0o100640)
    config = cfg.load(config_file, environ={})
    assert config.state_dir == "/var/lib/moodpi"
    assert config.models_dir == "/opt/moodpi/models"
    assert config.music.root == "/var/lib/moodpi/music"
    assert tree["var/lib/moodpi"][0] == oct(0o40750)
    music = root / "var/lib/moodpi/music"
    # One folder for any layout: no empty category folders (the analysis places every track).
    assert list(music.iterdir()) == []
    assert tree["var/lib/moodpi/music"][0] == oct(0o42775)  # setgid, group-writable


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


def _apt_without_sources(tmp_path: Path) -> str:
    """An APT_CONFIG for the real apt with no sources at all: the Raspberry Pi archive is not
    configured, as on plain Debian."""
    for sub in ("lists/partial", "cache/archives/partial", "sources.list.d"):
        (tmp_path / "apt" / sub).mkdir(parents=True)
    conf = tmp_path / "apt" / "apt.conf"
    conf.write_text(
        'Dir::Etc::SourceList "/dev/null";\n'
        f'Dir::Etc::SourceParts "{tmp_path}/apt/sources.list.d";\n'
        f'Dir::State::Lists "{tmp_path}/apt/lists";\n'
        f'Dir::Cache "{tmp_path}/apt/cache";\n'
    )
    return str(conf)


@pytest.mark.skipif(not shutil.which("apt-cache"), reason="needs Debian's apt")
def test_install_on_a_pi_without_the_raspberry_pi_archive_says_what_to_do(tmp_path: Path) -> None:
    """Issue 19: apt's raw "Unable to locate package python3-picamera2" was all one got."""
    apt = _apt_without_sources(tmp_path)
    prefix = str(tmp_path / "opt")
    result = _run(INSTALL, "--dry-run", "--pi", "--prefix", prefix, APT_CONFIG=apt)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "apt cannot install python3-picamera2" in result.stderr
    assert "archive.raspberrypi.com" in result.stderr
    assert "--no-picamera2" in result.stderr  # the way forward without the archive
    assert "Unable to locate" not in result.stderr

    forward = _run(
        INSTALL, "--dry-run", "--pi", "--no-picamera2", "--prefix", prefix, APT_CONFIG=apt
    )
    assert forward.returncode == 0, forward.stderr
    assert "python3-picamera2" not in forward.stdout
    assert "--require-picamera2" not in forward.stdout  # the smoke test does not ask for it
    assert not Path(prefix).exists()


def test_install_puts_the_mixers_system_libraries_and_one_constraints_file_to_use(
    tmp_path: Path,
) -> None:
    """pygame's mixer links libgthread-2.0 (libglib2.0-0); the venv's pip keeps the system's
    NumPy with the one constraints file from the checkout."""
    result = _run(INSTALL, "--dry-run", "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    # "Debian packages present: ..." or "installing Debian packages: ... (needed: ...)"
    packages = next(line for line in result.stdout.splitlines() if "Debian packages" in line)
    assert re.search(r"[: ]libglib2\.0-0(t64)?[ )]|libglib2\.0-0$", packages), packages
    assert f"--constraint {CONSTRAINTS}" in result.stdout


def test_install_rejects_bad_options(tmp_path: Path) -> None:
    assert _run(INSTALL, "--bogus", destdir=tmp_path).returncode != 0
    assert _run(INSTALL, "--prefix", 'relative"path', destdir=tmp_path).returncode != 0
    assert _run(INSTALL, "--help").returncode == 0


def test_uninstall_keeps_config_and_music_unless_purged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _install(root)
    track = root / "var/lib/moodpi/music/Artist/Album/01 Song.ogg"
    track.parent.mkdir(parents=True)
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
    for folder, dirs, files in os.walk(REPO):
        # pruned, never entered: train-runs/ may hold a chroot with /proc mounted (pi-check)
        dirs[:] = [
            d for d in dirs if d not in skip and (not d.startswith(".") or d in (".ci", ".github"))
        ]
        for name in files:
            path = Path(folder, name)
            if name.startswith(".") or not path.is_file():
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


def _plain_install(tmp_path: Path) -> Path:
    """`pip install .` (not editable) into a fresh venv, as a user would; --no-deps with our
    venv's site packages on its path (a .pth line) keeps it to a few seconds."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    # copytree follows symlinks by default, as cp -rL does in deploy/install.sh
    shutil.copytree(
        REPO / "device", src / "device", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    Path(purelib, "moodpi_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    done = subprocess.run(
        [*pip, "--quiet", "--no-deps", str(src)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


@pytest.mark.slow
def test_a_plain_pip_install_finds_its_own_models(tmp_path: Path) -> None:
    """Issue 19: `pip install .` then `moodpi evaluate` found no models (they live beside the
    checkout's package, not in it) unless --model or models_dir named them."""
    venv = _plain_install(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOODPI")}
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import moodpi.config as c; print(c.default_models_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=30,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    # the default model and the previous one, each with its sidecar and card, and BlazeFace;
    # models/retired/ stays out of the wheel
    shipped = {f"emotion_{v}_int8.{x}" for v in ("v14", "v13") for x in ("tflite", "json")}
    shipped |= {"MODEL_CARD_v14.md", "MODEL_CARD_v13.md", "README.md"}
    shipped |= {"face_detection_short_range.tflite", "face_landmark.tflite"}
    assert {p.name for p in Path(where).iterdir()} == shipped
    evaluate = subprocess.run(
        [
            str(venv / "bin" / "moodpi"),
            "evaluate",
            "--json",
            "--dataset",
            str(REPO / "tests" / "fixtures" / "eval" / "fer2013.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert evaluate.returncode == 0, evaluate.stderr
    assert json.loads(evaluate.stdout)["n"] == 14  # the fixture's PublicTest rows
    assert f"emotion model {venv}/" in evaluate.stderr  # the log line names the file it loaded
    # what `moodpi run` loads at start: the emotion model and BlazeFace, from the package
    smoke = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "moodpi.cli.doctor", "--smoke"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr


def _constraints(python_version: str) -> dict[str, SpecifierSet]:
    found: dict[str, SpecifierSet] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or marker.evaluate({"python_version": python_version}):
                found[requirement.name] = found.get(requirement.name, SpecifierSet()) & (
                    requirement.specifier
                )
    return found


@pytest.mark.parametrize(
    ("python", "system_numpy", "pip_would_pull"),
    [("3.11", "1.24.2", "2.4.0"), ("3.13", "2.2.4", "3.0.0")],  # Bookworm, Trixie
)
def test_the_constraints_keep_each_debian_releases_numpy(
    python: str, system_numpy: str, pip_would_pull: str
) -> None:
    numpy = _constraints(python)["numpy"]
    assert numpy.contains(system_numpy)  # pip finds the system's good enough: installs none
    assert not numpy.contains(pip_would_pull)


def test_the_constraints_hold_opencv_below_numpy_2_on_bookworm() -> None:
    assert not _constraints("3.11")["opencv-python-headless"].contains("4.12.0.88")
    assert "opencv-python-headless" not in _constraints("3.13")
