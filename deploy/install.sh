#!/usr/bin/env bash
# Install moodpi as a hardened systemd service on Raspberry Pi OS (Bookworm: Python 3.11,
# Trixie: Python 3.13) or Debian. Run from a checkout: sudo deploy/install.sh
# Idempotent: running it again upgrades in place and never overwrites /etc/moodpi/config.toml.
# Runbook: docs/operations.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo deploy/install.sh [OPTIONS]

  --prefix DIR       install root for the venv and models (default /opt/moodpi)
  --destdir DIR      stage into DIR (packaging, tests); same as DESTDIR=DIR. Skips apt,
                     the user, ownership and systemctl.
  --no-venv          skip the virtual environment (DESTDIR staging and tests)
  --no-apt           do not install Debian packages
  --no-start         enable the service but do not (re)start it
  --tflite-runtime   also install tflite-runtime 2.14 (Python <= 3.11 only); LiteRT
                     (ai-edge-litert) is installed and preferred in any case
  --pi               install as on a Raspberry Pi (picamera2, the system's NumPy) even where
                     /proc/device-tree/model does not say so (an image built in a chroot)
  --no-picamera2     on a Pi, do without the camera module's picamera2 (not in the apt
                     sources: see docs/operations.md); a USB camera works through V4L2
  --admin USER       add USER to group moodpi, so `moodpi status` works without sudo
                     (default: the user who ran sudo)
  --dry-run          print what would be done, change nothing
  -h, --help         this help
EOF
}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/moodpi
DESTDIR=${DESTDIR:-}
PYTHON=${PYTHON:-python3}
DRY_RUN=0
NO_VENV=0
NO_APT=0
NO_START=0
TFLITE_RUNTIME=0
PI=""
NO_PICAMERA2=0
ADMIN=${SUDO_USER:-}
BUILD_DIR=""
CONSTRAINTS=deploy/constraints-system-numpy.txt

# Fixed locations (the unit names them too); DESTDIR is prepended when staging.
CONF_DIR=/etc/moodpi
STATE_DIR=/var/lib/moodpi
UNIT_DIR=/etc/systemd/system
BIN_LINK=/usr/local/bin/moodpi
SERVICE_USER=moodpi

say() { printf 'moodpi-install: %s\n' "$*"; }
die() {
  printf 'moodpi-install: error: %s\n' "$*" >&2
  exit 1
}

# Run a command, or only show it with --dry-run.
run() {
  if ((DRY_RUN)); then
    printf '[dry-run]'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

staging() { [[ -n $DESTDIR ]]; }

parse_args() {
  while (($#)); do
    case $1 in
      --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
      --prefix=*) PREFIX=${1#*=} ;;
      --destdir) DESTDIR=${2:?--destdir needs a directory}; shift ;;
      --destdir=*) DESTDIR=${1#*=} ;;
      --no-venv) NO_VENV=1 ;;
      --no-apt) NO_APT=1 ;;
      --no-start) NO_START=1 ;;
      --tflite-runtime) TFLITE_RUNTIME=1 ;;
      --pi) PI=1 ;;
      --no-picamera2) NO_PICAMERA2=1 ;;
      --admin) ADMIN=${2?--admin needs a user name}; shift ;;
      --admin=*) ADMIN=${1#*=} ;;
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  # Paths end up in the unit and in TOML strings: keep them plain.
  [[ $PREFIX =~ ^/[A-Za-z0-9/._-]*$ ]] || die "--prefix must be an absolute path of [A-Za-z0-9/._-]"
  PREFIX=${PREFIX%/}
  if staging; then
    [[ $DESTDIR =~ ^/ ]] || DESTDIR=$PWD/$DESTDIR
    DESTDIR=${DESTDIR%/}
  fi
}

detect_pi() { grep -qa "Raspberry Pi" /proc/device-tree/model 2>/dev/null; }
on_pi() { [[ $PI == 1 ]]; }

python_version() { "$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

# ---------------------------------------------------------------------------------------------

preflight() {
  if ! staging && ! ((DRY_RUN)) && ((EUID != 0)); then
    die "run as root (sudo $0), or use --destdir/--dry-run"
  fi
  [[ -f $SRC/pyproject.toml && -f $SRC/deploy/config.example.toml ]] ||
    die "run from a moodpi checkout ($SRC has no pyproject.toml)"
  if ((TFLITE_RUNTIME)) && ! ((NO_VENV)); then
    local version
    version=$(python_version)
    [[ $version == 3.9 || $version == 3.10 || $version == 3.11 ]] ||
      die "tflite-runtime has no wheels for Python $version; LiteRT (ai-edge-litert) is used"
  fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# 12 on Bookworm, 13 on Trixie (Raspberry Pi OS too); 0 where /etc/os-release does not say.
debian_major() {
  local id
  id=$(sed -n 's/^VERSION_ID="\{0,1\}\([0-9]*\).*/\1/p' /etc/os-release 2>/dev/null || true)
  echo "${id:-0}"
}


install_packages() {
  if staging || ((NO_APT)); then
    return
  fi
  # python3-venv: the venv; alsa-utils: ALSA's config and aplay/speaker-test for checks.
  # The pygame wheel brings its own SDL and libasound, but its mixer (SDL_mixer, fluidsynth)
  # links the system's libglib-2.0 and libgthread-2.0: without them pygame.mixer does not
  # import and the daemon plays nothing (Debian 13, Trixie, names it libglib2.0-0t64).
  # picamera2 and libcamera come from Raspberry Pi's archive.
  local packages=(python3-venv alsa-utils ca-certificates)
  if (($(debian_major) >= 13)); then
    packages+=(libglib2.0-0t64)
  else
    packages+=(libglib2.0-0)
  fi
  if on_pi; then
    packages+=(python3-numpy)
    ((NO_PICAMERA2)) || packages+=(python3-picamera2)
  fi
  local missing=()
  local package
  for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    say "Debian packages present: ${packages[*]}"
    return
  fi
  say "installing Debian packages: ${missing[*]} (needed: ${packages[*]})"
  run apt-get update -qq
  if [[ " ${missing[*]} " == *" python3-picamera2 "* ]] && ! apt_has python3-picamera2; then
    no_picamera2_help
  fi
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# apt knows a version of the package it could install (an unknown name prints nothing).
apt_has() { apt-cache policy "$1" 2>/dev/null | grep -q '^  Candidate: [^(]'; }

no_picamera2_help() {
  local suite
  suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
  cat >&2 <<HELP
moodpi-install: error: apt cannot install python3-picamera2: the Raspberry Pi archive
  (archive.raspberrypi.com) is not among this system's apt sources.
  Raspberry Pi OS has it in /etc/apt/sources.list.d/raspi.list (or raspi.sources): if it is
  there, run sudo apt update and try again. On plain Debian, add it, then run this again:
    curl -fsSL https://archive.raspberrypi.com/debian/raspberrypi.gpg.key |
      sudo gpg --dearmor -o /usr/share/keyrings/raspberrypi-archive-keyring.gpg
    echo "deb [signed-by=/usr/share/keyrings/raspberrypi-archive-keyring.gpg] http://archive.raspberrypi.com/debian/ ${suite:-bookworm} main" |
      sudo tee /etc/apt/sources.list.d/raspi.list
    sudo apt update
  Or go on without the camera module (a USB camera works: camera.source = "v4l2:/dev/video0"):
    sudo deploy/install.sh --no-picamera2
  (docs/operations.md, "Install": when picamera2 is not available)
HELP
  exit 1
}

create_user() {
  if staging; then
    return
  fi
  local group
  for group in video audio; do
    getent group "$group" >/dev/null || run groupadd --system "$group"
  done
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    say "creating system user $SERVICE_USER"
    run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "moodpi appliance" "$SERVICE_USER"
  fi
  run usermod --append --groups video,audio "$SERVICE_USER"
  if [[ -n $ADMIN && $ADMIN != root ]]; then
    if getent passwd "$ADMIN" >/dev/null; then
      say "adding $ADMIN to group $SERVICE_USER (moodpi status/tail without sudo; next login)"
      run usermod --append --groups "$SERVICE_USER" "$ADMIN"
    else
      say "no user $ADMIN; not adding an admin to group $SERVICE_USER"
    fi
  fi
}

# Create a directory with a mode, and an owner outside staging.
make_dir() {
  local mode=$1 owner=$2 dir=$3
  run install -d -m "$mode" "$DESTDIR$dir"
  # install -d leaves an existing directory's mode alone: set it, so reruns converge.
  run chmod "$mode" "$DESTDIR$dir"
  staging || run chown "$owner" "$DESTDIR$dir"
}

# A directory the system owns (/etc/systemd/system): create it only when staging needs it.
system_dir() {
  if [[ ! -d $DESTDIR$1 ]]; then
    run install -d -m 0755 "$DESTDIR$1"
  fi
}

install_files() {
  say "installing files under ${DESTDIR:-/}"
  make_dir 0755 root:root "$PREFIX"
  make_dir 0755 root:root "$PREFIX/models"
  local model
  for model in "$SRC"/models/*; do
    if [[ -f $model ]]; then
      run install -m 0644 "$model" "$DESTDIR$PREFIX/models/"
    fi
  done
  make_dir 0755 root:root "$PREFIX/docs"
  if [[ -f $SRC/docs/operations.md ]]; then
    run install -m 0644 "$SRC/docs/operations.md" "$DESTDIR$PREFIX/docs/"
  fi
  run install -m 0644 "$SRC/deploy/config.example.toml" "$DESTDIR$PREFIX/config.example.toml"
  # The constraints for any later pip install into the venv (docs/operations.md, "Upgrade").
  run install -m 0644 "$SRC/$CONSTRAINTS" "$DESTDIR$PREFIX/${CONSTRAINTS#deploy/}"
  if [[ -e $DESTDIR$PREFIX/constraints.txt ]]; then
    run rm -f "$DESTDIR$PREFIX/constraints.txt" # written by releases before issue 19
  fi
  run install -m 0755 "$SRC/deploy/uninstall.sh" "$DESTDIR$PREFIX/uninstall.sh"

  make_dir 0755 root:root "$CONF_DIR"
  install_config
  make_dir 0750 "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR"
  # setgid + group-writable: admins in group moodpi can copy music in over SSH (scp). Any layout
  # (flat, Artist/Album/...): the analysis places every track, so no category folders are made;
  # a folder named after a category (sad/, calming/) is the admin's own explicit choice.
  make_dir 2775 "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR/music"

  system_dir "$UNIT_DIR"
  if [[ $PREFIX == /opt/moodpi ]]; then
    run install -m 0644 "$SRC/systemd/moodpi.service" "$DESTDIR$UNIT_DIR/moodpi.service"
  else
    say "unit: ExecStart from $PREFIX"
    if ((DRY_RUN)); then
      printf '[dry-run] write %s (prefix %s)\n' "$DESTDIR$UNIT_DIR/moodpi.service" "$PREFIX"
    else
      sed "s#/opt/moodpi/#$PREFIX/#g" "$SRC/systemd/moodpi.service" >"$DESTDIR$UNIT_DIR/moodpi.service"
      chmod 0644 "$DESTDIR$UNIT_DIR/moodpi.service"
    fi
  fi
  system_dir "$(dirname "$BIN_LINK")"
  run ln -sfn "$PREFIX/venv/bin/moodpi" "$DESTDIR$BIN_LINK"
}

# /etc/moodpi/config.toml from the example, with this device's paths; never overwritten.
install_config() {
  local target=$DESTDIR$CONF_DIR/config.toml
  if [[ -e $target ]]; then
    say "keeping existing $CONF_DIR/config.toml (the new example: $PREFIX/config.example.toml)"
    return
  fi
  say "creating $CONF_DIR/config.toml"
  if ((DRY_RUN)); then
    printf '[dry-run] write %s from deploy/config.example.toml\n' "$target"
    return
  fi
  local tmp
  tmp=$(mktemp "$DESTDIR$CONF_DIR/.config.toml.XXXXXX")
  awk -v state="$STATE_DIR" -v models="$PREFIX/models" -v music="$STATE_DIR/music" '
    /^\[/ { section = $0 }
    section == "" && /^#state_dir = / { print "state_dir = \"" state "\""; done++; next }
    section == "" && /^#models_dir = / { print "models_dir = \"" models "\""; done++; next }
    section == "[music]" && /^#root = / { print "root = \"" music "\""; done++; next }
    { print }
    END { if (done != 3) exit 3 }
  ' "$SRC/deploy/config.example.toml" >"$tmp" || {
    rm -f "$tmp"
    die "deploy/config.example.toml lacks state_dir, models_dir or [music] root"
  }
  chmod 0640 "$tmp"
  staging || chown "root:$SERVICE_USER" "$tmp"
  mv "$tmp" "$target"
}

# ---------------------------------------------------------------------------------------------
# The virtual environment
install_venv() {
  if ((NO_VENV)); then
    return
  fi
  local venv=$DESTDIR$PREFIX/venv version
  version=$(python_version)
  if [[ -x $venv/bin/python ]] &&
    [[ $("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') != "$version" ]]; then
    say "Python changed to $version (OS upgrade?): recreating the venv"
    run rm -rf "$venv"
  fi
  if [[ ! -x $venv/bin/python ]]; then
    say "creating $PREFIX/venv (Python $version, with system site packages for picamera2)"
    run "$PYTHON" -m venv --system-site-packages "$venv"
  fi
  # The venv shares the system's site packages: keep the system's NumPy, which Debian's
  # picamera2 and simplejpeg are built against (the one constraints file, for every such venv).
  local constraints=$SRC/$CONSTRAINTS
  local extras=""
  if ((TFLITE_RUNTIME)); then
    extras="[tflite-runtime]"
  fi
  say "installing moodpi and its Python dependencies into the venv"
  if ((DRY_RUN)); then
    run "$venv/bin/python" -m pip install --upgrade --constraint "$constraints" "$SRC$extras"
    return
  fi
  # Build from a copy: pip builds in the source tree and would leave root-owned files there.
  BUILD_DIR=$(mktemp -d)
  # -L: device/moodpi/models links to models/, which the wheel carries as moodpi/models
  cp -rL "$SRC/pyproject.toml" "$SRC/device" "$BUILD_DIR/"
  if [[ -f $SRC/README.md ]]; then
    cp "$SRC/README.md" "$BUILD_DIR/"
  fi
  find "$BUILD_DIR" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off --upgrade \
    --constraint "$constraints" "$BUILD_DIR$extras"
  rm -rf "$BUILD_DIR"
  BUILD_DIR=""
  check_numpy_not_shadowed "$venv"
}

check_numpy_not_shadowed() {
  local venv=$1 where
  "$PYTHON" -c 'import numpy' 2>/dev/null || return 0
  where=$("$venv/bin/python" -c 'import numpy; print(numpy.__file__)')
  if [[ $where == "$venv"/* ]]; then
    die "pip installed its own NumPy ($where) over the system's: picamera2 would break." \
      "Remove it with $PREFIX/venv/bin/pip uninstall numpy and report this."
  fi
}

# The install ends by using what it installed: imports and one classification.
smoke_test() {
  if staging || ((NO_VENV)); then
    return
  fi
  say "checking the install: imports and one classification"
  local check=(--smoke --config "$CONF_DIR/config.toml")
  if on_pi && ! ((NO_PICAMERA2)); then
    check+=(--require-picamera2)
  fi

  run "$DESTDIR$PREFIX/venv/bin/python" -m moodpi.cli.doctor "${check[@]}"
}

enable_service() {
  if staging; then
    return
  fi
  if [[ ! -d /run/systemd/system ]]; then
    say "systemd is not running here: not enabling the service"
    return
  fi
  run systemctl daemon-reload
  run systemctl enable moodpi.service
  if ((NO_START)); then
    say "enabled; start it with: sudo systemctl start moodpi"
  else
    run systemctl restart moodpi.service
    say "started: moodpi status; journalctl -u moodpi -f"
  fi
}

cleanup() {
  if [[ -n $BUILD_DIR ]]; then
    rm -rf "$BUILD_DIR"
  fi
}

main() {
  trap cleanup EXIT
  parse_args "$@"
  if [[ -z $PI ]]; then
    PI=0
    if detect_pi; then
      PI=1
    fi
  fi
  preflight
  if ((DRY_RUN)); then
    say "dry run: nothing will be changed"
  fi
  install_packages
  create_user
  install_files
  install_venv
  smoke_test
  enable_service
  say "done. Config: $CONF_DIR/config.toml; music (any layout): $STATE_DIR/music/"
}

main "$@"
