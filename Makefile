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

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.pipeline_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.tag_bench $(TAG_BENCH_ARGS)
	$(BIN)/python -m bench.dedupe_bench $(DEDUPE_BENCH_ARGS)
	$(BIN)/python -m bench.search_bench $(SEARCH_BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/ruff format --check monitor tests bench

typecheck: $(STAMP)
	$(BIN)/mypy monitor

check: lint typecheck test

demo: $(STAMP)
	$(BIN)/monitor demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
