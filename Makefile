# Every target creates .venv when it is missing, so a fresh clone needs nothing else.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/paygate demo

lint: $(STAMP)
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/python scripts/render_transitions.py --check
	$(BIN)/python scripts/build_simulator_schemas.py --check
	$(BIN)/ruff check src tests contract_tests benchmarks scripts
	$(BIN)/ruff format --check src tests contract_tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy src scripts

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# The large chaos and kill runs (their figures are printed); `make test` runs a small one.
# PostgreSQL's kill run needs PAYGATE_TEST_POSTGRES_URL (the local server by default here).
chaos: $(STAMP)
	PAYGATE_CHAOS=large \
	PAYGATE_TEST_POSTGRES_URL=$${PAYGATE_TEST_POSTGRES_URL-postgresql://postgres@127.0.0.1:5432/test} \
	$(BIN)/pytest -q --timeout=3600 tests/test_chaos.py

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

# PostgreSQL and Redis rows use the local servers unless told otherwise (PAYGATE_BENCH_*_URL).
bench: $(BENCH_STAMP)
	PAYGATE_BENCH_POSTGRES_URL=$${PAYGATE_BENCH_POSTGRES_URL-postgresql://postgres@127.0.0.1:5432/test} \
	PAYGATE_BENCH_REDIS_URL=$${PAYGATE_BENCH_REDIS_URL-redis://127.0.0.1:6379/0} \
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
