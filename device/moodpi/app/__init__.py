"""`moodpi run`: wiring and lifecycle of the daemon (daemon.py), the camera as it holds it
(camera.py), and how a run ends (exits.py)."""

from moodpi.app.daemon import Daemon
from moodpi.app.exits import EX_SOFTWARE, EX_UNAVAILABLE, SetupError, ending

__all__ = ["EX_SOFTWARE", "EX_UNAVAILABLE", "Daemon", "SetupError", "ending"]
