# The whole set-up is `make test` or `make demo`: each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROMTOOL := .tools/promtool

.PHONY: test lint typecheck unit demo bench chaos clean promtool

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(PROMTOOL)
	$(BIN)/pytest || [ $$? -eq 5 ]

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

demo: $(STAMP)
	$(BIN)/signal-relay demo

bench: $(STAMP)
	$(BIN)/python -m bench

# Longer hostile-peer soaks (flapping broker proxy, misbehaving server); not part of `make test`.
chaos: $(STAMP)
	SIGNAL_RELAY_CHAOS=1 $(BIN)/pytest tests/chaos

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
