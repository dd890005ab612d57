# Every target creates .venv and installs the project into it when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench check lint typecheck demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	MONITOR_DATA_DIR=$${MONITOR_DATA_DIR:-storage} $(BIN)/monitor run

# Tests: the README's Tests section says what each target runs and how long it takes.
# PYTEST_WORKERS is pytest-xdist's -n: auto = one worker per core; 0 = all in this process.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS)
# Test files that read no clock and hold no dates; test-future runs every other one. The browser
# test is left out there too: chromium under faketime's LD_PRELOAD is not what it tests.
# The fault trials, the analysis pool and the event-loop test run process pools and killed
# subprocesses, timed by the monotonic clock, which faketime does not move: they stay out too.
CLOCKLESS := charset deploy lang leads normalise relevance_quality rules settings tag urls web_browser \
	faults offload event_loop
FUTURE_TESTS = $(filter-out $(CLOCKLESS:%=tests/test_%.py),$(wildcard tests/test_*.py))
INSTALL_CHECK ?= $(or $(TMPDIR),/tmp)/az-kz-monitor-install-check

.PHONY: test-fast test-future test-install

# the whole suite
test: $(STAMP)
	$(PYTEST) $(PYTEST_ARGS)

# the quick loop: no test marked slow, none that needs PostgreSQL
test-fast: $(STAMP)
	$(PYTEST) -m 'not slow and not postgres' $(PYTEST_ARGS)

# the suite a year from today (Debian's faketime): no test may depend on the day it runs. Only
# the wall clock moves; tests/faketime/sitecustomize.py says why, and what it mends for that.
test-future: $(STAMP)
	@command -v faketime >/dev/null || { echo "test-future needs faketime: apt-get install faketime" >&2; exit 2; }
	FAKETIME_DONT_FAKE_MONOTONIC=1 PYTHONPATH=$(CURDIR)/tests/faketime$(if $(PYTHONPATH),:$(PYTHONPATH)) \
	  faketime -f '+365d' $(PYTEST) $(FUTURE_TESTS) $(PYTEST_ARGS)

# what a user gets: `pip install .` with the pip of a venv made by the machine's python3 (not
# upgraded), then `monitor --help`, and `monitor demo` run outside the clone (on the sources, rules
# and seeds shipped in the package). build/ goes first: setuptools would
# package what a stale one still holds.
test-install:
	rm -rf build $(INSTALL_CHECK)
	$(PYTHON) -m venv $(INSTALL_CHECK)
	$(INSTALL_CHECK)/bin/pip --version
	$(INSTALL_CHECK)/bin/pip install --quiet .
	$(INSTALL_CHECK)/bin/monitor --help >/dev/null
	cd $(INSTALL_CHECK) && bin/monitor --data-dir demo demo >/dev/null  # outside the clone
	rm -rf build $(INSTALL_CHECK)
	@echo "test-install: pip install . gives a working monitor"

bench: $(STAMP)
	$(BIN)/python -m bench.pipeline_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.tag_bench $(TAG_BENCH_ARGS)
	$(BIN)/python -m bench.dedupe_bench $(DEDUPE_BENCH_ARGS)
	$(BIN)/python -m bench.search_bench $(SEARCH_BENCH_ARGS)
	$(BIN)/python -m bench.startup_bench $(STARTUP_BENCH_ARGS)
	$(BIN)/python -m bench.offload_bench $(OFFLOAD_BENCH_ARGS)
	$(BIN)/python -m bench.workers_bench $(WORKERS_BENCH_ARGS)
	$(BIN)/python -m bench.story_bench $(STORY_BENCH_ARGS)

# ruff, then the layers contract of pyproject.toml ([tool.importlinter]): a lower layer that
# imports a higher one fails here
lint: $(STAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/ruff format --check monitor tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy monitor

check: lint typecheck test

# The offline tour: recorded sites on 127.0.0.1, archived into storage/demo (emptied first, so
# every tour starts from nothing); it ends by printing the command that browses that archive.
demo: $(STAMP)
	rm -rf storage/demo
	$(BIN)/monitor --data-dir storage/demo demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
