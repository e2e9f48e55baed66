# moodpi — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo

.PHONY: demo test test-deps bench mood-bench lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The daemon on a bundled replay of faces: synthesised demo music, playback, events on stdout.
demo: $(STAMP)
	$(PY) scripts/make_demo.py --out $(DEMO_DIR)

# System packages the tests use for real: a Mosquitto broker, shellcheck, systemd-analyze.
test-deps:
	@missing=""; \
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
# pooled over the seeds: bench/mood.json. Replays are built once into build/ (not in git).
MOOD_SEEDS ?= $(shell seq 40 55)
MOOD_REPLAYS := $(addprefix build/replay-mood-,$(MOOD_SEEDS))

build/replay-mood-%/truth.json: | $(STAMP)
	$(PY) scripts/make_replay.py --segments 20 --fps 10 --seed $* --out build/replay-mood-$* --force

mood-bench: $(STAMP) $(addsuffix /truth.json,$(MOOD_REPLAYS))
	$(PY) -m moodpi bench --mood $(MOOD_REPLAYS) --json > bench/mood.json
	$(PY) -c 'import json; from moodpi.lab.moodbench import report; print(report(json.load(open("bench/mood.json"))))'

# Style, the package's shape (import contracts in pyproject.toml) and types; CI runs it.
lint: $(STAMP) test-deps
	$(VENV)/bin/ruff check device tests scripts
	PYTHONPATH=device $(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	shellcheck deploy/*.sh .ci/run

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
