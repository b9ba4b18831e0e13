# Two commands for a new user: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/siaga: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/siaga

run: $(BIN)/siaga
	$(BIN)/siaga run --demo

lint: $(BIN)/siaga
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(BIN)/siaga
	$(BIN)/python -m bench.bench_detectors
	$(BIN)/python -m bench.bench_pipeline
	$(BIN)/python -m bench.bench_pipeline --stations 0 --readings 50000
	$(BIN)/python -m bench.bench_latency
	$(BIN)/python -m bench.bench_worker
	$(BIN)/python -m bench.bench_fanout --alerts 2000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
