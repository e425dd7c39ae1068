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

# the whole suite, in parallel (one worker per core)
test: setup
	$(BIN)/python -m pytest -n auto

# the fast loop while editing: everything but the slow tests (subprocesses, real engines)
test-fast: setup
	HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest -m "not slow" -n auto

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests

typecheck: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
