# The whole set-up is `make test`, `make demo` or `make bench`: each creates .venv when it is
# missing and installs the extras of its role (pyproject.toml): dev (tests, lint, types, and the
# receiver/demo/fast extras they exercise), demo (local broker + receiver), bench.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROMTOOL := .tools/promtool

.PHONY: test test-lowest lint typecheck unit unit-fast demo bench chaos clean promtool

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

# The Kafka-facing tests on the lowest versions pyproject.toml admits (.ci/lowest_constraints.py
# pins each of the product's dependencies to its floor; the test tooling stays at its newest),
# in a venv of its own. `make test-lowest AIOKAFKA=0.13.0` runs them on that aiokafka instead.
LOWEST := .venv-lowest
AIOKAFKA ?=
LOWEST_TESTS := $(wildcard tests/test_relay_*.py) tests/test_foreign_records.py \
	tests/test_generative_stream.py tests/test_isolation_level.py \
	tests/test_resume_private_api.py $(wildcard tests/test_aiokafka_private.py) \
	tests/test_lag_metrics.py tests/test_broker_faults.py tests/test_publish.py \
	tests/test_dlq_replay.py tests/test_cli_check.py tests/unit

test-lowest:
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(PYTHON) .ci/lowest_constraints.py $(if $(AIOKAFKA),--aiokafka $(AIOKAFKA)) \
	  > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet -c $(LOWEST)/constraints.txt -e '.[test]'
	$(LOWEST)/bin/python -m pip freeze | grep -iE "^($$(cut -d= -f1 $(LOWEST)/constraints.txt \
	  | sed 's/-/[-_.]/g' | paste -sd'|'))=="
	$(LOWEST)/bin/pytest -q -p no:cacheprovider $(LOWEST_TESTS)

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
