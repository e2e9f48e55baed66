# moodpi — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo

.PHONY: demo test test-deps bench lint venv clean

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

lint: $(STAMP)
	$(VENV)/bin/ruff check device tests scripts
	shellcheck deploy/*.sh .ci/run

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
