# Two commands set everything up on a machine with nothing but Python 3.11:
#   make run    — virtualenv, install, run the reference pipeline end to end (DuckDB engine, SQLite)
#   make test   — install dev tools, lint, type-check, layer contracts, the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
PY      = $(BIN)/python
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON ?= $(abspath $(PY))

.PHONY: run test test-fast lint typecheck contracts install install-dev bench compare clean example image deploy-test deploy-up deploy-down

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (need Python 3.11+; set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Two distributions (docs/architecture.md): the framework (pyproject.toml, `sparkjobs`) and the
# reference application (apps/recommendations/pyproject.toml, `sparkjobs-recommendations`), which
# depends on the framework like any user's project; both are installed editable.
APP = apps/recommendations

$(VENV)/.installed-app: pyproject.toml $(APP)/pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[spark,postgres,api]' -e '$(APP)[all]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(APP)/pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]' -e '$(APP)[all,plot]'
	@touch $@ $(VENV)/.installed-app

install: $(VENV)/.installed-app
install-dev: $(VENV)/.installed-dev

example: install
	$(BIN)/sparkjobs run hello_spark --param output_path=data/examples/hello_spark --partitions 4

run: install
	$(PY) -m recommendations.demo

lint: install-dev
	$(BIN)/ruff check src $(APP)/src tests bench
	$(BIN)/ruff format --check src $(APP)/src tests bench

typecheck: install-dev
	$(BIN)/mypy

contracts: install-dev
	$(BIN)/lint-imports

test-fast: install-dev
	$(BIN)/pytest -q -m "not spark and not postgres and not e2e"

test: lint typecheck contracts
	$(BIN)/pytest -q

# Benchmarks compare against a baseline in the same run and rewrite their section of docs/benchmarks.md.
# bench_loader needs PostgreSQL: BENCH_PG_DSN (default: the local test database).
BENCH_PG_DSN ?= postgresql://postgres@127.0.0.1:5432/test
bench: install-dev
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_loader.py --dsn $(BENCH_PG_DSN)
	$(PY) bench/bench_overhead.py --spark
	$(PY) bench/bench_api.py --pg-dsn $(BENCH_PG_DSN)
	$(PY) bench/bench_scale.py

# The model comparison of docs/recommendations.md (tables, docs/comparison/*.json|md|png), on MovieLens.
compare: install-dev
	$(PY) -m recommendations.compare --out docs/comparison --docs docs/recommendations.md --spec docs/comparison/spec.yml

# The container image, built here without a registry (docs/deployment.md): mmdebstrap base image, a
# wheelhouse from this venv's package index, sparkjobs:latest and sparkjobs-postgres:local. Starts a
# private dockerd when none answers and stops it again. BASE_IMAGE=python:3.11-slim-bookworm uses a registry.
# KEEP_DOCKERD=1 leaves the engine running.
image: install
	deploy/test/dockerd.sh start
	PYTHON=$(abspath $(PY)) deploy/image/build-image.sh; rc=$$?; \
	  $(if $(KEEP_DOCKERD),true,deploy/test/dockerd.sh stop); exit $$rc

# The local stack in one command (docs/deployment.md): private dockerd, the images, PostgreSQL, the
# MovieLens sample in the lake volume, the initial load in a container, then the API (127.0.0.1:8000)
# and the scheduler. deploy-down stops it (VOLUMES=1 also drops the lake and the database) and dockerd.
deploy-up: install
	PYTHON=$(abspath $(PY)) deploy/local_stack.sh up
deploy-down: install
	PYTHON=$(abspath $(PY)) deploy/local_stack.sh down

# The deployment test (docs/deployment.md): private dockerd, make image, the local stack, the pipeline
# inside the containers on a MovieLens slice, the API from the host, a killed API restarted, a
# per-minute scheduler fire in the ledger; then down -v and dockerd stopped, also on failure.
deploy-test: install
	PYTHON=$(abspath $(PY)) deploy/test/deploy_test.sh

clean:
	rm -rf $(VENV) data/examples runs .pytest_cache .mypy_cache .ruff_cache
