# The whole set-up is `make test`, `make demo` or `make bench`: each creates .venv when it is
# missing and installs the extras of its role (pyproject.toml): dev (tests, lint, types, and the
# receiver/demo/fast extras they exercise), demo (local broker + receiver), bench.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROMTOOL := .tools/promtool

.PHONY: test lint typecheck unit unit-fast demo bench chaos clean promtool

$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

STAMP := $(VENV)/.installed-dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(PROMTOOL)
	$(BIN)/pytest || [ $$? -eq 5 ]

# The record path against in-memory doubles (no broker, no server): runs in about a second.
unit-fast: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: promtool lint typecheck unit

# promtool checks and unit-tests deploy/prometheus (tests/test_alert_rules.py). Taken once from
# Debian's `prometheus` package, unpacked into .tools/ (no Prometheus service is installed or
# started); a promtool already on PATH is used instead. Nothing to do when .tools/promtool exists.
promtool: $(PROMTOOL)

$(PROMTOOL):
	mkdir -p $(@D)
	if command -v promtool >/dev/null; then ln -sf "$$(command -v promtool)" $@; else \
	  rm -rf $(@D)/deb && mkdir $(@D)/deb && cd $(@D)/deb && \
	  { apt-get download prometheus || { apt-get update && apt-get download prometheus; }; } && \
	  dpkg -x prometheus_*.deb root && cp root/usr/bin/promtool ../promtool && \
	  cd .. && rm -rf deb; fi
	$@ --version

demo: $(VENV)/.installed-demo,fast
	$(BIN)/signal-relay demo

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench

# Longer hostile-peer soaks (flapping broker proxy, misbehaving server), and the hostile-answer
# cases on the optional pyreqwest transport too; not part of `make test`.
chaos: $(STAMP)
	SIGNAL_RELAY_CHAOS=1 $(BIN)/pytest tests/chaos tests/test_hostile_answers.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
