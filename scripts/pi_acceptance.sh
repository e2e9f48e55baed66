#!/usr/bin/env bash
# On-device acceptance: what only a real Raspberry Pi can show (issue 19). Run it once after
# `sudo deploy/install.sh`, on the Pi, with the camera and the speaker connected:
#
#   sudo scripts/pi_acceptance.sh            (or /opt/moodpi/docs/... : see docs/operations.md)
#
# One line per item, pass / fail / skip with what was seen; exit status 1 when any item fails.
# It stops the service for the camera and sound items (they need the devices) and starts it
# again for the systemd items. It writes nothing but a short WAV under /tmp.
set -uo pipefail

PREFIX=${PREFIX:-/opt/moodpi}
PY=$PREFIX/venv/bin/python
SERVICE=moodpi.service
FAILED=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

result() {
  local level=$1 name=$2
  shift 2
  printf '%-5s %-22s %s\n' "$level" "$name" "$*"
  if [[ $level == fail ]]; then
    FAILED=$((FAILED + 1))
  fi
}

# item NAME COMMAND...: the command prints its finding; exit 0 pass, 77 skip, else fail.
item() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  out=$(tail -n 1 <<<"$out")
  case $rc in
    0) result pass "$name" "$out" ;;
    77) result skip "$name" "$out" ;;
    *) result fail "$name" "$out" ;;
  esac
}

# ---------------------------------------------------------------------------------------------

board() {
  local model
  model=$(tr -d '\0' </proc/device-tree/model 2>/dev/null) || {
    echo "no /proc/device-tree/model: not a Raspberry Pi"
    return 1
  }
  echo "$model, $(uname -m), $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
  [[ $model == *"Raspberry Pi"* ]]
}

stop_service() {
  if systemctl is-active --quiet "$SERVICE"; then
    systemctl stop "$SERVICE"
  fi
}

# The two streams moodpi's own picamera2 source configures (camera.width x height YUV420 main,
# a quarter-size YUV420 lores), each frame fetched with Picamera2.wait(job, timeout=).
camera_streams() {
  "$PY" - <<'EOF'
import time
try:
    from picamera2 import Picamera2
except Exception as exc:
    print(f"picamera2 does not import: {exc} (install.sh --no-picamera2? see docs/operations.md)")
    raise SystemExit(1)
from moodpi import config
from moodpi.perception.sources.picamera import Picamera2Source

cameras = Picamera2.global_camera_info()
if not cameras:
    print("no camera found: check the ribbon cable; rpicam-hello --list-cameras")
    raise SystemExit(1)
from pathlib import Path

installed = Path("/etc/moodpi/config.toml")  # the service's config, else the defaults
source = Picamera2Source(config.load(installed if installed.is_file() else None).camera)
started = time.monotonic()
with source:
    frames = [source.read(2.0) for _ in range(20)]
fps = len(frames) / (time.monotonic() - started)
got = [f for f in frames if f is not None]
if len(got) < 20 or any(f.lores is None for f in got):
    print(f"{len(got)} of 20 frames, {sum(f.lores is not None for f in got)} with lores")
    raise SystemExit(1)
main, lores = got[-1].image, got[-1].lores
print(
    f"{cameras[0].get('Model', '?')}: main {main.shape[1]}x{main.shape[0]}, "
    f"lores {lores.shape[1]}x{lores.shape[0]} (Y planes), {fps:.1f} fps over 20 frames"
)
EOF
}

# wait(timeout=) must give up on a job that cannot finish: a stopped camera.
camera_wait_timeout() {
  "$PY" - <<'EOF'
import time
try:
    from picamera2 import Picamera2
except Exception as exc:
    print(f"picamera2 does not import: {exc}")
    raise SystemExit(77)
if not Picamera2.global_camera_info():
    print("no camera")
    raise SystemExit(77)
cam = Picamera2()
cam.configure(cam.create_video_configuration(main={"size": (640, 480)}))
cam.start()
cam.stop()  # no frames will come
started = time.monotonic()
try:
    cam.wait(cam.capture_array("main", wait=False), timeout=0.5)
except TimeoutError:
    print(f"TimeoutError after {time.monotonic() - started:.2f} s (asked 0.5 s)")
except Exception as exc:
    print(f"wait(timeout=0.5) raised {type(exc).__name__}: {exc} instead of TimeoutError")
    raise SystemExit(1)
else:
    print("wait() returned a frame from a stopped camera")
    raise SystemExit(1)
finally:
    cam.close()
EOF
}

alsa_devices() {
  command -v aplay >/dev/null || {
    echo "no aplay: sudo apt install alsa-utils"
    return 1
  }
  local cards
  cards=$(aplay -l 2>/dev/null | grep -c '^card ') || true
  if ((cards == 0)); then
    echo "aplay -l lists no playback device"
    return 1
  fi
  echo "$cards playback device(s): $(aplay -l | grep '^card ' | sed 's/ \[.*//' | paste -sd ';' -)"
}

# Through pygame, as the daemon plays: the mixer opens the default device and plays a tone.
sound_plays() {
  "$PY" - "$TMP/tone.wav" <<'EOF'
import os, sys, time, wave
import numpy as np
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
rate = 44100
tone = (0.2 * 32767 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype("<i2")
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate); w.writeframes(tone.tobytes())
import pygame
pygame.mixer.init()
freq, _, channels = pygame.mixer.get_init()
pygame.mixer.Sound(sys.argv[1]).play()
time.sleep(1.2)
pygame.mixer.quit()
print(f"pygame mixer: {freq} Hz, {channels} ch; you should have heard a 1 s tone (AUDIODEV: {os.environ.get('AUDIODEV', 'default')})")
EOF
}

# Type=notify: systemctl start returns once the daemon has said READY=1 (or failed).
service_starts() {
  local started
  started=$(date +%s)
  systemctl start "$SERVICE" || {
    echo "systemctl start failed: journalctl -u moodpi -n 30"
    return 1
  }
  if [[ $(systemctl is-active "$SERVICE") != active ]]; then
    echo "not active after start: journalctl -u moodpi -n 30"
    return 1
  fi
  echo "ready in $(($(date +%s) - started)) s: $(systemctl show -p StatusText --value "$SERVICE")"
}

# The watchdog: the unit asks for one, and the daemon keeps it fed (no restart for 40 s).
watchdog_fed() {
  local usec restarts_before restarts_after
  usec=$(systemctl show -p WatchdogUSec --value "$SERVICE")
  if [[ -z $usec || $usec == 0 || $usec == infinity ]]; then
    echo "WatchdogSec is not set on $SERVICE"
    return 1
  fi
  restarts_before=$(systemctl show -p NRestarts --value "$SERVICE")
  sleep 40
  restarts_after=$(systemctl show -p NRestarts --value "$SERVICE")
  if [[ $(systemctl is-active "$SERVICE") != active || $restarts_after != "$restarts_before" ]]; then
    echo "restarted or stopped within 40 s (NRestarts $restarts_before → $restarts_after)"
    return 1
  fi
  echo "WatchdogSec $usec, still active after 40 s, NRestarts $restarts_after"
}

temperature() {
  command -v vcgencmd >/dev/null || {
    echo "no vcgencmd (Raspberry Pi OS has it: libraspberrypi-bin)"
    return 77
  }
  local text temp
  text=$(vcgencmd measure_temp) || return 1
  temp=${text#temp=}
  temp=${temp%\'C}
  echo "$text"
  awk -v t="$temp" 'BEGIN { exit !(t < 80) }' # the firmware throttles from 80 (Pi 4) / 85 (Pi 5)
}

throttling() {
  command -v vcgencmd >/dev/null || {
    echo "no vcgencmd"
    return 77
  }
  local text flags
  text=$(vcgencmd get_throttled) || return 1
  flags=$((${text#throttled=}))
  if ((flags & 0xF)); then
    echo "$text: under-voltage or throttling now: the official power supply, a heatsink"
    return 1
  fi
  if ((flags & 0xF0000)); then
    echo "$text: under-voltage or throttling since boot (not now): check the power supply"
    return 0
  fi
  echo "$text: none since boot"
}

main() {
  if ((EUID != 0)); then
    echo "run as root: sudo $0 (it stops and starts the service)" >&2
    exit 2
  fi
  [[ -x $PY ]] || {
    echo "no $PY: install first (sudo deploy/install.sh)" >&2
    exit 2
  }
  item board board
  stop_service
  item "camera main + lores" camera_streams
  item "camera wait(timeout=)" camera_wait_timeout
  item "ALSA devices" alsa_devices
  item "sound through pygame" sound_plays
  item "systemd start" service_starts
  item "systemd watchdog" watchdog_fed
  item temperature temperature
  item throttling throttling
  if ((FAILED)); then
    echo "$FAILED item(s) failed (docs/operations.md, \"Acceptance on the Pi\")"
    exit 1
  fi
  echo "all items passed"
}

main "$@"
