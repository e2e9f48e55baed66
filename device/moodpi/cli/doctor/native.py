"""What the doctor knows about the native stack under the wheels (issue 19).

Two ways a fresh system breaks silently: a wheel's bundled library needs a system library the
minimal image lacks (pygame's mixer links libgthread-2.0 from libglib2.0-0, so the daemon plays
nothing), and a NumPy that pip put into a venv with `--system-site-packages` shadows the
system's, which Debian's picamera2 and simplejpeg are compiled against. Both are read from
what is there (the loader's message, the installed packages' metadata), never guessed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata as md
import importlib.util
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The Debian package holding each system library the wheels we use link against, found with
# ldd on pygame's, OpenCV's and LiteRT's bundled libraries (x86_64 and aarch64). Libraries of
# the base system (libc, libm, libstdc++6, zlib1g) are there too, for a trimmed image.
DEBIAN_PACKAGES = {
    "libgthread-2.0.so.0": "libglib2.0-0",  # pygame: SDL_mixer and fluidsynth
    "libglib-2.0.so.0": "libglib2.0-0",
    "libpcre2-8.so.0": "libpcre2-8-0",  # glib's
    "libasound.so.2": "libasound2",
    "libX11.so.6": "libx11-6",  # pygame.scrap only
    "libxcb.so.1": "libxcb1",
    "libGL.so.1": "libgl1",  # opencv-python (not -headless)
    "libgomp.so.1": "libgomp1",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libz.so.1": "zlib1g",
}
# Renamed by Debian 13 (Trixie)'s 64-bit time_t transition; apt maps the old name to the new.
T64 = {"libglib2.0-0", "libasound2"}

_MISSING = re.compile(r"([\w.+-]+\.so(?:\.\w+)*): cannot open shared object file")
SYSTEM_CONSTRAINTS = "deploy/constraints-system-numpy.txt"


def missing_library(message: str) -> str | None:
    """The shared library an ImportError (or OSError) says the loader could not find."""
    match = _MISSING.search(message)
    return match.group(1) if match else None


def install_hint(library: str, os_release: Path = Path("/etc/os-release")) -> str:
    """What to apt install for a missing library, in this Debian release's name."""
    package = DEBIAN_PACKAGES.get(library)
    if package is None:
        return f"apt-file search {library} names the package; or rerun sudo deploy/install.sh"
    if package in T64 and _debian_major(os_release) >= 13:
        package += "t64"
    return f"sudo apt install {package} (or rerun sudo deploy/install.sh)"


def _debian_major(os_release: Path) -> int:
    try:
        text = os_release.read_text()
    except OSError:
        return 0
    match = re.search(r'^VERSION_ID="?(\d+)', text, re.MULTILINE)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class Shadow:
    """A NumPy earlier on sys.path than another one: the later one is never imported."""

    used_version: str
    used_dir: Path
    hidden_version: str
    hidden_dir: Path
    dependents: tuple[str, ...]  # packages beside the hidden NumPy that require NumPy

    def breaks(self) -> bool:
        """Modules compiled against NumPy 1.x cannot run in NumPy 2 (and the reverse)."""
        major = (self.used_version.split(".")[0], self.hidden_version.split(".")[0])
        return bool(self.dependents) and major[0] != major[1]


def numpy_shadow(search_path: Sequence[str] | None = None) -> Shadow | None:
    """Is the NumPy that imports hiding another installed NumPy (the system's)?"""
    paths = list(sys.path if search_path is None else search_path)
    spec = importlib.util.find_spec("numpy") if search_path is None else _find(paths)
    if spec is None or spec.origin is None:
        return None
    used_dir = Path(spec.origin).resolve().parent.parent
    found = [d for d in md.distributions(path=paths) if _name(d) == "numpy"]
    used = next((d for d in found if _site(d) == used_dir), None)
    hidden = next((d for d in found if _site(d) != used_dir), None)
    if used is None or hidden is None:
        return None
    hidden_dir = _site(hidden)
    dependents = sorted(
        {
            _name(d)
            for d in md.distributions(path=[str(hidden_dir)])
            if _name(d) != "numpy" and _requires_numpy(d)
        }
    )
    return Shadow(used.version, used_dir, hidden.version, hidden_dir, tuple(dependents))


def shadow_hint(shadow: Shadow) -> str:
    pip = Path(sys.prefix) / "bin" / "pip"
    return (
        f"{pip} uninstall numpy; install with pip -c {SYSTEM_CONSTRAINTS} "
        "(sudo deploy/install.sh does)"
    )


def _find(paths: list[str]) -> importlib.machinery.ModuleSpec | None:
    return importlib.machinery.PathFinder.find_spec("numpy", paths)


def _requires_numpy(dist: md.Distribution) -> bool:
    """Requires-Dist (outside extras), or the old Requires field Debian's egg-info still carries
    (python3-bottleneck: "Requires: numpy" in PKG-INFO, nothing in requires.txt)."""
    declared = [r for r in dist.requires or [] if "extra ==" not in r]
    declared += dist.metadata.get_all("Requires") or []
    return any(re.match(r"numpy\b", r.strip().lower()) for r in declared)


def _name(dist: md.Distribution) -> str:
    return re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "").lower())


def _site(dist: md.Distribution) -> Path:
    return Path(str(dist.locate_file(""))).resolve()
