# moodpi — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo

.PHONY: demo test test-deps bench mood-bench mood-grid attack lint venv clean pi-check

venv: $(STAMP)

# On a Raspberry Pi the venv shares the system's site packages (Debian's picamera2), and the one
# constraints file keeps the system's NumPy, which picamera2 and simplejpeg are compiled against.
ON_PI := $(shell grep -qa "Raspberry Pi" /proc/device-tree/model 2>/dev/null && echo 1)
VENV_FLAGS := $(if $(ON_PI),--system-site-packages)
PIP_CONSTRAINTS := $(if $(ON_PI),-c deploy/constraints-system-numpy.txt)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

# The daemon on a bundled replay of faces: synthesised demo music, playback, events on stdout.
demo: $(STAMP)
	$(PY) scripts/make_demo.py --out $(DEMO_DIR)

# System packages the tests use for real: a Mosquitto broker, shellcheck, systemd-analyze; and
# libglib2.0-0, which pygame's mixer links (a minimal system lacks it: no sound, issue 19).
test-deps:
	@missing=""; \
	ldconfig -p | grep -q libgthread-2.0.so.0 || missing="$$missing libglib2.0-0"; \
	command -v mosquitto >/dev/null || missing="$$missing mosquitto mosquitto-clients"; \
	command -v shellcheck >/dev/null || missing="$$missing shellcheck"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: $(STAMP) test-deps
	$(PY) -m pytest -q

# Seed configuration vs moodpi's pipeline, side by side: bench/results.json and bench/bench.png.
bench: $(STAMP)
	$(PY) scripts/bench.py

# Mood tracking scored on fresh labelled replays of FER-2013 PublicTest faces (issue 3's targets),
# pooled over the seeds: bench/mood.json. The faces are those with a clear FER+ majority, labelled
# by it, where ../shared/data/ferplus is there (issue 28; truth.json's "faces" says which). Replays
# are built into build/ (not in git), again when their generator or the votes change.
MOOD_SEEDS ?= $(shell seq 40 55)
MOOD_REPLAYS := $(addprefix build/replay-mood-,$(MOOD_SEEDS))
REPLAY_INPUTS := scripts/make_replay.py device/moodpi/lab/replaygen.py device/moodpi/lab/scene.py \
	$(wildcard ../shared/data/ferplus/public_test.npz)

build/replay-mood-%/truth.json: $(REPLAY_INPUTS) | $(STAMP)
	$(PY) scripts/make_replay.py --segments 20 --fps 10 --seed $* --out build/replay-mood-$* --force

# The mood tracker's settings: a grid chosen on other seeds' replays and checked on the
# mood-bench ones (lab/mood/grid.py): bench/mood_grid.json.
GRID_SEEDS ?= $(shell seq 60 75)
GRID_REPLAYS := $(addprefix build/replay-mood-,$(GRID_SEEDS))

mood-grid: $(STAMP) $(addsuffix /truth.json,$(GRID_REPLAYS) $(MOOD_REPLAYS))
	$(PY) -m moodpi bench --mood-grid $(GRID_REPLAYS) --held-out $(MOOD_REPLAYS) --json > bench/mood_grid.json
	$(PY) -c 'import json; from moodpi.lab.mood.grid import report; print(report(json.load(open("bench/mood_grid.json"))))'

mood-bench: $(STAMP) $(addsuffix /truth.json,$(MOOD_REPLAYS))
	$(PY) -m moodpi bench --mood $(MOOD_REPLAYS) --json > bench/mood.json
	$(PY) -c 'import json; from moodpi.lab.mood.bench import report; print(report(json.load(open("bench/mood.json"))))'

# Issue 18's attack on the real daemon (real Mosquitto with TLS and passwords, kill -9, lost and
# corrupt journals, full state dir, hostile configs, 10 MB payloads, a flapping broker, a stolen
# client id): figures in bench/attack.json; then the e2e fuzz, read-only, full-disk, corrupt-track
# and garbage-camera tests, which make test also runs.
attack: $(STAMP) test-deps
	$(PY) -m pytest -q -n 0 -m attack tests/attack
	$(PY) -m pytest -q -n 0 tests/e2e/test_faults.py -k "fuzz or read_only or full_disk or corrupt_empty or garbage"

# Style, the package's shape (import contracts in pyproject.toml) and types; CI runs it.
lint: $(STAMP) test-deps
	$(VENV)/bin/ruff check device tests scripts
	PYTHONPATH=device $(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	shellcheck deploy/*.sh scripts/*.sh .ci/run

# moodpi on a fresh Debian arm64 root under qemu (scripts/pi_check.sh): needs root, takes half an
# hour, not part of CI; run before a release. The table: train-runs/pi-check/pi-check.txt.
pi-check:
	nice -n 19 scripts/pi_check.sh $(PI_CHECK_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
