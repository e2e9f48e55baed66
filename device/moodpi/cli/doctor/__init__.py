"""`moodpi doctor`: is this device able to do its job? One line per check, for an SSH session.

Checks: runtime (Python, NumPy, OpenCV, the TFLite runtime, picamera2 on a Pi), camera (opens,
reads frames: size and fps), models (load, shapes, one classification of a bundled face), audio
output, music library, broker (connects with the configured TLS and credentials), disk space of
the state directory, and on a Pi the CPU temperature and throttling flags. Each prints ok, warn,
fail or skip with a one-line hint; the exit status is 1 when any check fails.

It works with the daemon running: when the status file is fresh the daemon owns the camera and
the audio device, so those two checks report what the daemon says instead of opening them.
`python -m moodpi.cli.doctor --smoke` runs only the runtime and model checks (deploy/install.sh ends
with it).

The room: check (the Check every check returns), runtime and native (the native stack), models,
devices (camera and audio), host (disk, temperature, power), home (the music library and the
broker); report runs them and prints the report; __main__ is `python -m moodpi.cli.doctor`.
"""
