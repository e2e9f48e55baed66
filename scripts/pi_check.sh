#!/usr/bin/env bash
# make pi-check: moodpi on a fresh Debian arm64 root, as a new user would install it on a
# Raspberry Pi (issue 19). The root is made with mmdebstrap and run under qemu-user-static via
# binfmt_misc, with a Pi 5 (Cortex-A76) or Pi 4 (Cortex-A72) CPU and a matching /proc/cpuinfo.
# In it: deploy/install.sh (and its answer when picamera2 cannot be installed), the daemon on
# the demo replay with SDL's disk audio driver from the installed venv, `moodpi evaluate` on a
# few hundred PublicTest faces (beside this machine's answers), `moodpi doctor` (and the package
# it names when the mixer's library is gone), a plain venv that keeps the system's NumPy, and
# the fast tests. Prints a table of steps, results and times.
#
# Needs root and minutes (about half an hour on two cores): not part of CI; run it before a
# release. Everything runs niced; the log and the table are in train-runs/pi-check/.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo scripts/pi_check.sh [OPTIONS]        (or: sudo make pi-check)

  --cpu NAME      cortex-a76 (Pi 5, default) or cortex-a72 (Pi 4)
  --suite NAME    Debian suite of the root (default bookworm: Raspberry Pi OS 12)
  --mirror URL    Debian mirror (default: this machine's apt source, else deb.debian.org)
  --work DIR      the log, the table and the saved base system (default train-runs/pi-check);
                  the root itself is /var/tmp/moodpi-pi-check/root
  --faces N       PublicTest faces for moodpi evaluate (default 300)
  --reuse-base    unpack the base system saved by an earlier run instead of mmdebstrap
                  (the root itself is always fresh)
  --no-tests      skip the fast tests (the longest step)
  --tests-only    only what the tests need: the root, install.sh, the plain venv, the tests
  --pytest ARGS   what the test step runs instead of -m 'not slow' (e.g. a few node ids)
  --golden        also run the golden PublicTest test of every model (slow)
  --keep          leave the root in place afterwards (default: removed)
  -h, --help      this help
EOF
}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CPU=cortex-a76
SUITE=bookworm
MIRROR=""
WORK=$SRC/train-runs/pi-check
FACES=300
REUSE_BASE=0
TESTS=1
TESTS_ONLY=0
PYTEST_ARGS="-m 'not slow'"
# the tests' waits are sized for an x86 core; emulated, the same work takes 20-40 times as long
TIME_SCALE=10
GOLDEN=0
KEEP=0
PUBLIC_TEST=$SRC/../shared/data/fer2013/public_test.npz
# What a fresh Raspberry Pi OS Lite has that a minimal Debian lacks, and no more: install.sh
# must bring the rest (python3-venv, libglib2.0-0, python3-numpy, ...).
BASE_PACKAGES=python3,ca-certificates

die() {
  printf 'pi-check: cannot run: %s\n' "$*" >&2
  exit 2
}
say() { printf 'pi-check: %s\n' "$*" >&2; }

parse_args() {
  while (($#)); do
    case $1 in
      --cpu) CPU=${2:?--cpu needs a name}; shift ;;
      --suite) SUITE=${2:?--suite needs a name}; shift ;;
      --mirror) MIRROR=${2:?--mirror needs a URL}; shift ;;
      --work) WORK=${2:?--work needs a directory}; shift ;;
      --faces) FACES=${2:?--faces needs a number}; shift ;;
      --reuse-base) REUSE_BASE=1 ;;
      --no-tests) TESTS=0 ;;
      --tests-only) TESTS_ONLY=1 ;;
      --pytest) PYTEST_ARGS=${2:?--pytest needs arguments}; shift ;;
      --golden) GOLDEN=1 ;;
      --keep) KEEP=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  [[ $CPU == cortex-a76 || $CPU == cortex-a72 ]] || die "--cpu: cortex-a76 or cortex-a72"
  [[ $FACES =~ ^[0-9]+$ ]] || die "--faces needs a number"
  mkdir -p "$WORK"
  WORK=$(cd "$WORK" && pwd)
  # outside the checkout: a tree with /proc mounted in it must not be walked by the tests
  ROOT=/var/tmp/moodpi-pi-check/root
  BASE=$WORK/base-$SUITE-arm64.tar
  LOG=$WORK/pi-check.log
  TABLE=$WORK/pi-check.txt
}

# ---------------------------------------------------------------------------------------------
# Can this machine do it at all? Each missing piece stops here, saying what to do.

default_mirror() {
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list.d/*.list | grep -E '/debian/?( |$)' | head -n 1 |
    sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//') || true
  echo "${uri:-http://deb.debian.org/debian}"
}

preflight() {
  ((EUID == 0)) || die "needs root (mmdebstrap, chroot, mounts, binfmt_misc): sudo make pi-check"
  local machine
  machine=$(uname -m)
  local tool
  for tool in mmdebstrap chroot mount curl; do
    command -v "$tool" >/dev/null ||
      die "$tool is missing: sudo apt-get install mmdebstrap qemu-user-static curl"
  done
  if [[ $machine != aarch64 ]]; then
    [[ -x /usr/bin/qemu-aarch64-static ]] ||
      die "qemu-aarch64-static is missing: sudo apt-get install qemu-user-static"
    if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
        die "binfmt_misc is not mounted and cannot be (a container without CAP_SYS_ADMIN?):" \
          "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
      local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
      [[ -f $conf ]] || die "no $conf: sudo apt-get install qemu-user-static"
      # F (fix binary): the interpreter is opened now, so it works inside the chroot too
      cat "$conf" >/proc/sys/fs/binfmt_misc/register 2>/dev/null ||
        die "cannot register qemu-aarch64 with binfmt_misc ($conf)"
    fi
    grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
      die "qemu-aarch64 is registered without the F flag: it would not run inside the chroot"
  fi
  [[ -n $MIRROR ]] || MIRROR=$(default_mirror)
  curl -fsS --max-time 20 -o /dev/null "$MIRROR/dists/$SUITE/main/binary-arm64/Release" ||
    die "no arm64 packages at $MIRROR/dists/$SUITE/main/binary-arm64/ (--mirror URL)"
  curl -fsS --max-time 20 -o /dev/null https://pypi.org/simple/pygame/ ||
    die "PyPI is not reachable: pip in the root needs it for the wheels"
  [[ ! -e $ROOT ]] || die "$ROOT exists (an earlier run that was stopped?): remove it first"
}

# ---------------------------------------------------------------------------------------------
# The table

STEPS=()
FAILED=0
BLOCKED=""

# step NAME EXPECT COMMAND...: run it, time it, log it; EXPECT is the exit status that passes.
# A step whose NAME starts with "!" is needed by the rest: when it fails, they are skipped.
step() {
  local name=$1 expect=$2 needed=0
  shift 2
  if [[ $name == !* ]]; then
    name=${name#!}
    needed=1
  fi
  if [[ -n $BLOCKED ]]; then
    STEPS+=("$(printf '%-44s %-14s %6s   %s' "$name" skipped - "($BLOCKED failed)")")
    return 0
  fi
  local started rc=0
  started=$(date +%s)
  printf '\n===== %s (%s)\n' "$name" "$(date -u +%H:%M:%S)" >>"$LOG"
  say "$name ..."
  "$@" >>"$LOG" 2>&1 || rc=$?
  local took=$(($(date +%s) - started)) result=pass
  if [[ $rc != "$expect" ]]; then
    result="FAIL (exit $rc)"
    FAILED=$((FAILED + 1))
    if ((needed)); then
      BLOCKED=$name
    fi
  fi
  local note=""
  if [[ -s $WORK/note ]]; then
    note=$(tr '\n' ' ' <"$WORK/note")
  fi
  : >"$WORK/note"
  STEPS+=("$(printf '%-44s %-14s %6ss  %s' "$name" "$result" "$took" "$note")")
  say "$name: $result in ${took}s $note"
}

note() { printf '%s ' "$*" >>"$WORK/note"; }

print_table() {
  {
    printf 'moodpi pi-check: %s arm64 root, qemu-aarch64 -cpu %s, %s\n' "$SUITE" "$CPU" "$(date -u +%F)"
    printf '%-44s %-14s %7s  %s\n' step result time notes
    printf '%s\n' "${STEPS[@]}"
    if ((FAILED)); then
      printf '%d step(s) failed; the log: %s\n' "$FAILED" "$LOG"
    else
      printf 'all steps passed\n'
    fi
  } | tee "$TABLE"
}

# ---------------------------------------------------------------------------------------------
# The root

cpuinfo() {
  local part variant revision board model features
  if [[ $CPU == cortex-a76 ]]; then
    part=0xd0b variant=0x4 revision=1 board=d04170 model="Raspberry Pi 5 Model B Rev 1.0"
    features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm"
    features+=" lrcpc dcpop asimddp"
  else
    part=0xd08 variant=0x0 revision=3 board=c03114 model="Raspberry Pi 4 Model B Rev 1.4"
    features="fp asimd evtstrm crc32 cpuid"
  fi
  local cpu
  for cpu in 0 1 2 3; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\n' "$cpu" "$features"
    printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\n' "$variant"
    printf 'CPU part\t: %s\nCPU revision\t: %s\n\n' "$part" "$revision"
  done
  printf 'Revision\t: %s\nSerial\t\t: 10000000c0ffee00\nModel\t\t: %s\n' "$board" "$model"
}

make_base() {
  if ((REUSE_BASE)) && [[ -s $BASE ]]; then
    note "reused $(basename "$BASE")"
    return 0
  fi
  rm -f "$BASE"
  nice -n 19 mmdebstrap --arch=arm64 --variant=minbase --include="$BASE_PACKAGES" \
    "$SUITE" "$BASE" "$MIRROR"
}

MOUNTS=()

mount_root() {
  mkdir -p "$ROOT"
  tar -C "$ROOT" -xpf "$BASE"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  # Raspberry Pi OS ships an /etc/hosts (localhost, the host name); a minbase root has none, and
  # without it "localhost" does not resolve (the broker tests connect to it)
  if [[ ! -s $ROOT/etc/hosts ]]; then
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\traspberrypi\n' \
      >"$ROOT/etc/hosts"
    note "/etc/hosts as Raspberry Pi OS has it;"
  fi
  # The local CAs this machine trusts (a TLS-inspecting proxy): pip in the root needs them to
  # reach PyPI as pip here does.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    # what update-ca-certificates would add to the bundle, without minutes of it under qemu
    cat /usr/local/share/ca-certificates/*.crt >>"$ROOT/etc/ssl/certs/ca-certificates.crt"
    note "local CAs: $(find /usr/local/share/ca-certificates -name '*.crt' | wc -l);"
  fi
  cpuinfo >"$WORK/cpuinfo"
  mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
  mount --bind "$WORK/cpuinfo" "$ROOT/proc/cpuinfo" && MOUNTS+=("$ROOT/proc/cpuinfo")
  mount -t sysfs -o ro sysfs "$ROOT/sys" && MOUNTS+=("$ROOT/sys")
  mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev" && MOUNTS+=("$ROOT/dev")
  mount -t tmpfs -o mode=1777 tmpfs "$ROOT/dev/shm" && MOUNTS+=("$ROOT/dev/shm")
  mount -t tmpfs -o mode=0755 tmpfs "$ROOT/run" && MOUNTS+=("$ROOT/run")
  note "$(chroot "$ROOT" uname -m), $(grep -m1 '^Model' "$ROOT/proc/cpuinfo" | cut -d: -f2)"
}

# The checkout as git sees it (tracked and new files, not the ignored ones), into /root/moodpi.
copy_checkout() {
  mkdir -p "$ROOT/root/moodpi"
  (cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 tar -c --no-recursion -f -) |
    tar -C "$ROOT/root/moodpi" -xf -
  note "$(find "$ROOT/root/moodpi" -type f | wc -l) files"
}

# Run a shell command in the root, as a fresh login would have it.
in_root() {
  nice -n 19 chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb QEMU_CPU="$CPU" PYGAME_HIDE_SUPPORT_PROMPT=1 \
    MOODPI_TEST_TIME_SCALE="$TIME_SCALE" \
    /bin/bash -euo pipefail -c "$1"
}

stop_root_processes() {
  local proc pid
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    if [[ $(readlink "$proc/root" 2>/dev/null) == "$ROOT" ]]; then
      kill "$pid" 2>/dev/null || true
    fi
  done
}

cleanup() {
  [[ -n ${ROOT:-} && -d ${ROOT:-/nonexistent} ]] || return 0
  stop_root_processes
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -R "${MOUNTS[i]}" 2>/dev/null || umount -lR "${MOUNTS[i]}" 2>/dev/null || true
  done
  if ! ((KEEP)) && ! grep -q " $ROOT/" /proc/mounts; then
    rm -rf "$ROOT"
  fi
}

# ---------------------------------------------------------------------------------------------
# The checks, each a step

# install.sh as on a Pi whose apt sources lack the Raspberry Pi archive: it must say so.
install_without_archive() {
  local out
  out=$(in_root 'cd /root/moodpi && deploy/install.sh --pi --no-start 2>&1') && return 9 # it must stop
  printf '%s\n' "$out"
  grep -q "apt cannot install python3-picamera2" <<<"$out" && grep -q -- "--no-picamera2" <<<"$out"
  note "says: no Raspberry Pi archive; --no-picamera2"
}

install_for_real() {
  in_root 'cd /root/moodpi && deploy/install.sh --pi --no-picamera2 --no-start' || return 1
  note "$(in_root '/opt/moodpi/venv/bin/python -c "import numpy, cv2, pygame; print(\"NumPy\", numpy.__version__, numpy.__file__.split(\"/\")[3], \"OpenCV\", cv2.__version__, \"pygame\", pygame.version.ver)"')"
}

# Every system library the installed wheels' extension modules load is there (their bundled
# libraries come along through RPATH). pygame.scrap, the clipboard, wants X11: moodpi has none.
libraries_resolve() {
  local missing
  in_root 'ls -d /opt/moodpi/venv/lib/python3*/site-packages/pygame.libs' || return 1
  missing=$(in_root 'cd /opt/moodpi/venv/lib/python3*/site-packages &&
    find pygame cv2 ai_edge_litert -name "*.so" -type f ! -name "scrap.*" \
      -exec ldd {} + 2>/dev/null | grep "not found" | sort -u' || true)
  if [[ -n $missing ]]; then
    printf 'not found:\n%s\n' "$missing"
    note "missing: $(awk '{print $1}' <<<"$missing" | sort -u | tr '\n' ' ')"
    return 1
  fi
  note "ldd: every library found"
}

# The daemon as the service runs it (user moodpi, the installed venv and config), on the demo
# replay in real time, with the demo's music in the library and SDL's disk driver for sound.
daemon_on_replay() {
  # the demo's replay and a music library by category are data, made here (minutes of numpy
  # under qemu otherwise), once
  if [[ ! -f $WORK/demo/replay/truth.json ]]; then
    "$SRC/.venv/bin/python" "$SRC/scripts/make_demo.py" --no-run --out "$WORK/demo" >/dev/null || return 1
  fi
  if [[ ! -d $WORK/demo-music/happy ]]; then
    "$SRC/.venv/bin/python" "$SRC/scripts/musicgen.py" "$WORK/demo-music" --seconds 12 || return 1
  fi
  # Every 5th frame, at 2 fps, as fast as it goes: in real time qemu classifies too few frames
  # to follow the story (every frame is handed over; the 50 s of replay time stay 50 s).
  rm -rf "$ROOT/var/lib/moodpi/replay"
  mkdir -p "$ROOT/var/lib/moodpi/replay/frames"
  local frame i=0
  for frame in "$WORK"/demo/replay/frames/*; do
    if ((i++ % 5 == 0)); then
      cp "$frame" "$ROOT/var/lib/moodpi/replay/frames/"
    fi
  done
  cp -r "$WORK/demo-music/." "$ROOT/var/lib/moodpi/music/"
  in_root 'chown -R moodpi:moodpi /var/lib/moodpi
    cd /var/lib/moodpi && timeout -s INT 900 runuser -u moodpi -- env SDL_AUDIODRIVER=disk \
      SDL_DISKAUDIOFILE=/var/lib/moodpi/playback.raw \
      /opt/moodpi/venv/bin/moodpi run --config /etc/moodpi/config.toml \
      --source replay:/var/lib/moodpi/replay/frames --fps 2 \
      --events-jsonl /var/lib/moodpi/events.jsonl' || return 1
  local summary
  summary=$(in_root '/opt/moodpi/venv/bin/python - <<EOF
import json, numpy as np
events = [json.loads(line) for line in open("/var/lib/moodpi/events.jsonl")]
moods = [e["emotion"] for e in events if e["type"] == "mood"]
tracks = [e for e in events if e["type"] == "track_started"]
pcm = np.fromfile("/var/lib/moodpi/playback.raw", dtype="<i2")
rms = float(np.sqrt(np.mean(pcm.astype(float) ** 2))) if pcm.size else 0.0
seq = "/".join(moods)
print(f"moods {seq}; {len(tracks)} tracks; sound {pcm.size / 2 / 44100:.1f} s rms {rms:.0f}")
assert {"happy", "sad"} <= set(moods) and tracks and rms > 100, "no moods, tracks or sound"
EOF')
  printf '%s\n' "$summary"
  note "$summary"
}

# The same faces through this machine's runtime and the root's: accuracy and top-1 agreement.
EVAL_SNIPPET='
import json, sys, numpy as np
from moodpi.config import default_models_dir, from_dict
from moodpi.perception.classify.emotion import EmotionClassifier
z = np.load(sys.argv[1])
config = from_dict({}).emotion
model = EmotionClassifier.from_file(default_models_dir() / config.model, flip_average=config.flip_average)
pred = np.array([int(model.classify(face).argmax()) for face in z["images"]])
np.save(sys.argv[2], pred)
'

evaluate_faces() {
  [[ -f $PUBLIC_TEST ]] || {
    note "no $PUBLIC_TEST"
    return 1
  }
  "$SRC/.venv/bin/python" -c "
import numpy as np, sys
z = np.load('$PUBLIC_TEST')
idx = np.random.default_rng(19).choice(len(z['labels']), $FACES, replace=False)
np.savez('$ROOT/root/faces.npz', images=z['images'][idx], labels=z['labels'][idx])
"
  "$SRC/.venv/bin/python" -c "$EVAL_SNIPPET" "$ROOT/root/faces.npz" "$WORK/pred-host.npy" || return 1
  in_root "/opt/moodpi/venv/bin/moodpi evaluate --dataset /root/faces.npz --json >/root/eval.json
    /opt/moodpi/venv/bin/python -c '$EVAL_SNIPPET' /root/faces.npz /root/pred-arm64.npy" || return 1
  cp "$ROOT/root/pred-arm64.npy" "$WORK/pred-arm64.npy"
  local summary
  summary=$("$SRC/.venv/bin/python" -c "
import json, numpy as np
report = json.load(open('$ROOT/root/eval.json'))
host, arm = np.load('$WORK/pred-host.npy'), np.load('$WORK/pred-arm64.npy')
labels = np.load('$ROOT/root/faces.npz')['labels']
print(f\"{report['n']} faces: accuracy {report['accuracy']:.4f} (this machine {np.mean(host == labels):.4f}),\",
      f\"macro-F1 {report['macro_f1']:.4f}; top-1 differs on {int(np.sum(host != arm))} of {len(arm)}\")
")
  printf '%s\n' "$summary"
  note "$summary"
}

doctor() {
  local out rc=0
  out=$(in_root 'cd /var/lib/moodpi && runuser -u moodpi -- env SDL_AUDIODRIVER=disk \
    SDL_DISKAUDIOFILE=/tmp/doctor.raw /opt/moodpi/venv/bin/moodpi doctor --config /etc/moodpi/config.toml') || rc=$?
  printf '%s\n' "$out"
  # no camera in a chroot; the rest must pass
  local name
  for name in runtime model faces audio music disk; do # the music from the daemon's step
    grep -qE "^ok +$name " <<<"$out" || {
      note "$name not ok"
      return 1
    }
  done
  note "runtime model faces audio music disk ok (camera: $(grep -oE '^\w+ +camera' <<<"$out" | awk '{print $1}'), exit $rc)"
}

# Without libglib2.0-0 the mixer does not load: doctor must name the package. Then put it back.
doctor_names_missing_package() {
  local out
  in_root 'dpkg --remove --force-depends libglib2.0-0 >/dev/null 2>&1' || return 1
  out=$(in_root 'SDL_AUDIODRIVER=disk SDL_DISKAUDIOFILE=/tmp/d.raw /opt/moodpi/venv/bin/moodpi doctor --config /etc/moodpi/config.toml 2>&1' || true)
  in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libglib2.0-0 >/dev/null'
  printf '%s\n' "$out"
  grep -E "^fail +(runtime|audio) " <<<"$out" | grep -q "libglib2.0-0" || return 1
  note "$(grep -m1 -E '^fail +(runtime|audio) ' <<<"$out" | cut -c15- | cut -c1-90)"
}

# A plain venv as a developer makes one on a Pi, with the one constraints file: the system's
# NumPy stays, and a Debian module compiled against it imports (bottleneck here: Debian main has
# no simplejpeg, which picamera2 brings from the Pi archive). Without the constraints pip pulls
# NumPy 2 over it: that module breaks, and the doctor's check says why.
plain_venv() {
  in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-bottleneck >/dev/null
    cd /root/moodpi && python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -c deploy/constraints-system-numpy.txt -e ".[dev]"
    .venv/bin/python -c "import numpy, bottleneck; assert numpy.__file__.startswith(\"/usr/lib/python3/\"), numpy.__file__; print(\"venv NumPy\", numpy.__version__, numpy.__file__)"
    .venv/bin/python -c "from moodpi.cli.doctor.native import numpy_shadow; assert numpy_shadow() is None"' ||
    return 1
  note "constrained: system NumPy $(in_root 'python3 -c "import numpy; print(numpy.__version__)"'), bottleneck imports;"
  local out
  out=$(in_root 'python3 -m venv --system-site-packages /tmp/unpinned
    /tmp/unpinned/bin/pip install --quiet --disable-pip-version-check "numpy>=2"
    /tmp/unpinned/bin/python -c "import bottleneck" 2>&1 | grep -m1 -o "compiled using NumPy 1.x cannot be run in" || true
    PYTHONPATH=/root/moodpi/device /tmp/unpinned/bin/python -c "from moodpi.cli.doctor.native import numpy_shadow; s = numpy_shadow(); print(s.used_version, \"over\", s.hidden_version, \"breaks\", \",\".join(s.dependents), s.breaks())"')
  printf '%s\n' "$out"
  grep -q "breaks .*bottleneck.* True" <<<"$out" || return 1
  note "unpinned: $(tail -n 1 <<<"$out")"
}

fast_tests() {
  in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null
    cd /root/moodpi && make test-deps >/dev/null &&
    .venv/bin/python -m pytest -q -n 2 -p no:cacheprovider '"$PYTEST_ARGS"' 2>&1' \
    >"$WORK/tests-full.txt" || true
  # the whole output stays in tests-full.txt; the log gets the failures' summary
  tail -n 40 "$WORK/tests-full.txt" | tee "$WORK/tests.txt"
  note "$(grep -E '[0-9]+ (passed|failed)' "$WORK/tests.txt" | tail -n 1)"
  grep -qE '[0-9]+ passed' "$WORK/tests.txt" && ! grep -qE '[0-9]+ failed|[0-9]+ errors?' "$WORK/tests.txt"
}

golden() {
  cp "$PUBLIC_TEST" "$ROOT/root/public_test.npz"
  mkdir -p "$ROOT/root/shared/data/fer2013"
  mv "$ROOT/root/public_test.npz" "$ROOT/root/shared/data/fer2013/"
  in_root 'cd /root/moodpi && .venv/bin/python -m pytest -q -n 2 -p no:cacheprovider \
    tests/unit/perception/test_model_card.py -k public_test -rA 2>&1 | tail -n 20' | tee "$WORK/golden.txt"
  note "$(grep -E '[0-9]+ (passed|failed)' "$WORK/golden.txt" | tail -n 1)"
  grep -qE '[0-9]+ passed' "$WORK/golden.txt" && ! grep -qE '[0-9]+ failed' "$WORK/golden.txt"
}

main() {
  parse_args "$@"
  preflight
  : >"$LOG"
  : >"$WORK/note"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  say "log: $LOG"
  step "!base system (mmdebstrap $SUITE arm64)" 0 make_base
  step "!fresh root, Pi-like /proc/cpuinfo" 0 mount_root
  step "!checkout copied in" 0 copy_checkout
  if ((!TESTS_ONLY)); then
    step "install.sh --pi without the Pi archive" 0 install_without_archive
  fi
  # the system packages the plain venv and the tests stand on come from install.sh
  step "!install.sh --pi --no-picamera2" 0 install_for_real
  if ((!TESTS_ONLY)); then
    step "wheels' libraries resolve (ldd)" 0 libraries_resolve
    step "daemon on the demo replay, disk audio" 0 daemon_on_replay
    step "moodpi evaluate, $FACES PublicTest faces" 0 evaluate_faces
    step "moodpi doctor" 0 doctor
    step "doctor names a missing libglib2.0-0" 0 doctor_names_missing_package
  fi
  step "!plain venv keeps the system NumPy" 0 plain_venv
  if ((TESTS)); then
    step "tests (pytest $PYTEST_ARGS)" 0 fast_tests
  fi
  if ((GOLDEN)); then
    # the golden test looks for ../shared/data beside the checkout: /root/shared
    step "golden PublicTest figures, every model" 0 golden
  fi
  print_table
  ((FAILED == 0))
}

main "$@"
