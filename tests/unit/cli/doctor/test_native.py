"""The doctor's view of the native stack (issue 19): the Debian package behind a missing
library, and a venv's NumPy shadowing the system's, read from real package metadata on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodpi.cli.doctor import native
from moodpi.cli.doctor.runtime import check_runtime

# What pygame printed on a fresh Debian Bookworm arm64 root (issue 19), verbatim.
MIXER_ERROR = (
    "mixer module not available (ImportError: libgthread-2.0.so.0: cannot open shared object "
    "file: No such file or directory)"
)


def _os_release(tmp_path: Path, version_id: str) -> Path:
    path = tmp_path / f"os-release-{version_id}"
    path.write_text(f'PRETTY_NAME="Debian"\nVERSION_ID="{version_id}"\nID=debian\n')
    return path


def test_the_mixers_missing_library_names_its_debian_package(tmp_path: Path) -> None:
    assert native.missing_library(MIXER_ERROR) == "libgthread-2.0.so.0"
    assert native.DEBIAN_PACKAGES["libgthread-2.0.so.0"] == "libglib2.0-0"
    bookworm = native.install_hint("libgthread-2.0.so.0", _os_release(tmp_path, "12"))
    assert bookworm.startswith("sudo apt install libglib2.0-0 ")
    trixie = native.install_hint("libgthread-2.0.so.0", _os_release(tmp_path, "13"))
    assert trixie.startswith("sudo apt install libglib2.0-0t64 ")
    assert native.install_hint("libz.so.1", _os_release(tmp_path, "13")).startswith(
        "sudo apt install zlib1g "
    )


@pytest.mark.parametrize(
    "message",
    [
        "libfoo.so: cannot open shared object file: No such file or directory",
        "import failed: libGL.so.1: cannot open shared object file: No such file or directory",
    ],
)
def test_any_loader_message_gives_the_library(message: str) -> None:
    assert native.missing_library(message) in ("libfoo.so", "libGL.so.1")
    assert native.missing_library("No module named 'cv2'") is None


def test_an_unknown_library_gets_a_way_to_find_its_package() -> None:
    assert "apt-file search libnope.so.3" in native.install_hint("libnope.so.3")


def _site(root: Path, dists: dict[str, tuple[str, str]]) -> Path:
    """A site-packages folder holding the named packages: (version, requires.txt)."""
    root.mkdir(parents=True)
    for name, (version, requires) in dists.items():
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(f"__version__ = {version!r}\n")
        info = root / f"{name}-{version}.egg-info"  # as Debian's python3-* packages ship them
        info.mkdir()
        (info / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        if requires:
            (info / "requires.txt").write_text(requires)
    return root


def test_a_venvs_numpy_2_shadowing_the_systems_1_24_is_found_with_its_victims(
    tmp_path: Path,
) -> None:
    venv = _site(tmp_path / "venv/lib/python3.11/site-packages", {"numpy": ("2.4.0", "")})
    system = _site(
        tmp_path / "usr/lib/python3/dist-packages",
        {
            "numpy": ("1.24.2", ""),
            "simplejpeg": ("1.6.6", "numpy>=1.19\n"),
            "picamera2": ("0.3.25", "numpy\nPiDNG\n"),
            "numpydoc": ("1.5.0", "sphinx\n"),  # a name that starts with numpy, no dependent
            "bottleneck": ("1.3.5", "\n[doc]\nnumpydoc\nsphinx\n"),  # Debian's: see below
            "sphinxish": ("1.0", "\n[test]\nnumpy\n"),  # numpy for its tests only
        },
    )
    # Debian's python3-bottleneck says so only in the old "Requires:" field of PKG-INFO
    info = system / "bottleneck-1.3.5.egg-info" / "PKG-INFO"
    info.write_text(info.read_text() + "Requires: numpy\n")
    shadow = native.numpy_shadow([str(venv), str(system)])
    assert shadow is not None
    assert (shadow.used_version, shadow.used_dir) == ("2.4.0", venv.resolve())
    assert (shadow.hidden_version, shadow.hidden_dir) == ("1.24.2", system.resolve())
    assert shadow.dependents == ("bottleneck", "picamera2", "simplejpeg")
    assert shadow.breaks()
    assert "constraints-system-numpy.txt" in native.shadow_hint(shadow)


def test_the_same_numpy_major_or_no_dependents_is_not_a_breakage(tmp_path: Path) -> None:
    venv = _site(tmp_path / "venv", {"numpy": ("1.26.4", "")})
    system = _site(tmp_path / "system", {"numpy": ("1.24.2", ""), "simplejpeg": ("1.6.6", "numpy")})
    same_major = native.numpy_shadow([str(venv), str(system)])
    assert same_major is not None and not same_major.breaks()
    alone = _site(tmp_path / "alone", {"numpy": ("1.24.2", "")})
    lonely = native.numpy_shadow(
        [str(_site(tmp_path / "v2", {"numpy": ("2.4.0", "")})), str(alone)]
    )
    assert lonely is not None and lonely.dependents == () and not lonely.breaks()


def test_one_numpy_or_none_is_no_shadow(tmp_path: Path) -> None:
    system = _site(tmp_path / "system", {"numpy": ("1.24.2", ""), "simplejpeg": ("1.6.6", "numpy")})
    assert native.numpy_shadow([str(system)]) is None
    assert native.numpy_shadow([str(tmp_path / "empty")]) is None


def test_this_venv_has_one_numpy_and_a_mixer_that_loads() -> None:
    check = check_runtime()
    assert check.level == "ok", check.line()
    assert native.numpy_shadow() is None
