#!/usr/bin/env bash
# Remove what deploy/install.sh added. Keeps /etc/moodpi (config) and /var/lib/moodpi (music,
# journal) and the moodpi user who owns them, unless --purge.
# Installed as /opt/moodpi/uninstall.sh too, so a checkout is not needed.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo deploy/uninstall.sh [OPTIONS]

  --prefix DIR    where install.sh put the venv and models (default /opt/moodpi)
  --destdir DIR   remove from a staged tree instead (same as DESTDIR=DIR); skips systemctl
                  and the user
  --purge         also remove the config, the music and journal, and the moodpi user
  --dry-run       print what would be done, change nothing
  -h, --help      this help
EOF
}

PREFIX=/opt/moodpi
DESTDIR=${DESTDIR:-}
PURGE=0
DRY_RUN=0

CONF_DIR=/etc/moodpi
STATE_DIR=/var/lib/moodpi
UNIT_DIR=/etc/systemd/system
BIN_LINK=/usr/local/bin/moodpi
SERVICE_USER=moodpi
# What install.sh put under PREFIX. Removed one by one: a wrong --prefix must never mean
# `rm -rf /usr`.
PREFIX_ITEMS=(venv models docs config.example.toml constraints-system-numpy.txt constraints.txt
  uninstall.sh)

say() { printf 'moodpi-uninstall: %s\n' "$*"; }
die() {
  printf 'moodpi-uninstall: error: %s\n' "$*" >&2
  exit 1
}

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
      --purge) PURGE=1 ;;
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  [[ $PREFIX =~ ^/[A-Za-z0-9/._-]*[A-Za-z0-9._-]$ ]] || die "--prefix must be an absolute path"
  if staging; then
    [[ $DESTDIR =~ ^/ ]] || DESTDIR=$PWD/$DESTDIR
    DESTDIR=${DESTDIR%/}
  fi
  if ! staging && ! ((DRY_RUN)) && ((EUID != 0)); then
    die "run as root (sudo $0), or use --destdir/--dry-run"
  fi
}

stop_service() {
  if staging || [[ ! -d /run/systemd/system ]]; then
    return
  fi
  if systemctl cat moodpi.service >/dev/null 2>&1; then
    say "stopping and disabling moodpi.service"
    run systemctl disable --now moodpi.service
    # RuntimeDirectoryPreserve=yes keeps /run/moodpi (the last status) after a stop: remove it.
    run systemctl clean --what=runtime moodpi.service || true
  fi
}

remove_unit() {
  if [[ -e $DESTDIR$UNIT_DIR/moodpi.service ]]; then
    run rm -f "$DESTDIR$UNIT_DIR/moodpi.service"
  fi
  # Drop-ins (`systemctl edit moodpi`) are the admin's configuration.
  if ((PURGE)) && [[ -d $DESTDIR$UNIT_DIR/moodpi.service.d ]]; then
    run rm -rf "$DESTDIR$UNIT_DIR/moodpi.service.d"
  fi
  if ! staging && [[ -d /run/systemd/system ]]; then
    run systemctl daemon-reload
    run systemctl reset-failed moodpi.service 2>/dev/null || true
  fi
}

remove_program() {
  local link=$DESTDIR$BIN_LINK
  if [[ -L $link && $(readlink "$link") == "$PREFIX/venv/bin/moodpi" ]]; then
    run rm -f "$link"
  fi
  local item
  for item in "${PREFIX_ITEMS[@]}"; do
    if [[ -e $DESTDIR$PREFIX/$item || -L $DESTDIR$PREFIX/$item ]]; then
      run rm -rf "${DESTDIR:?}$PREFIX/$item"
    fi
  done
  if [[ -d $DESTDIR$PREFIX ]]; then
    run rmdir --ignore-fail-on-non-empty "$DESTDIR$PREFIX"
  fi
}

remove_data() {
  if ! ((PURGE)); then
    say "kept $CONF_DIR and $STATE_DIR (music, journal); --purge removes them"
    return
  fi
  say "purging $CONF_DIR and $STATE_DIR"
  run rm -rf "$DESTDIR$CONF_DIR" "$DESTDIR$STATE_DIR"
  if ! staging && getent passwd "$SERVICE_USER" >/dev/null; then
    run userdel "$SERVICE_USER"
    if getent group "$SERVICE_USER" >/dev/null; then
      run groupdel "$SERVICE_USER"
    fi
  fi
}

main() {
  parse_args "$@"
  if ((DRY_RUN)); then
    say "dry run: nothing will be changed"
  fi
  stop_service
  remove_unit
  remove_program
  remove_data
  say "done"
}

main "$@"
