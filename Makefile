# One-command entry points: `make setup`, `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup demo test test-fast lint typecheck bench clean

setup: $(BIN)/carbonledger

$(BIN)/carbonledger: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: setup
	$(BIN)/carbonledger run --name toy-training --phase training -- $(BIN)/python examples/train_toy.py
	$(BIN)/carbonledger runs

# Tests run with Python's bytecode cache on, whatever the shell says: with
# PYTHONDONTWRITEBYTECODE set, every pytest process (each xdist worker) rewrites and compiles
# ~170 test modules again (~5 s of CPU each; collection 8.8 s instead of 1.7 s here).
PYTEST = PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest
# The fast loop's temporary files go to a RAM disk when one has room (SQLite's fsyncs then
# cost nothing; about a fifth of the fast loop here). `make test-fast TEST_TMPDIR=` opts out.
TEST_TMPDIR ?= $(shell df -Pk /dev/shm 2>/dev/null | awk 'NR==2 && $$4 > 1048576 {print "/dev/shm"}')
# one worker more than cores: the fast loop's tracking tests sleep (sampling cadence)
FAST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

# the whole suite, in parallel (one worker per core)
test: setup
	$(PYTEST) -n auto

# the fast loop while editing: everything but the slow tests (tests/conftest.py lists them:
# real engines, frameworks, subprocesses, the CLI fuzzer), with few examples per
# property test. 15-16 s on a 2-core machine at load 1-2; see README (Development).
test-fast: setup
	$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) HYPOTHESIS_PROFILE=fast $(PYTEST) -m "not slow" -n $(FAST_WORKERS)

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests

typecheck: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
