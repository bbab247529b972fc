# AccountPulse — the commands of the README. Everything runs through uv; `make` installs what
# is missing (uv itself via pip, the Python environment, the Kafka jars on first start).
SHELL := /bin/bash
UV := $(shell deploy/local/ensure-uv.sh)
PY := $(UV) run --frozen

.PHONY: help install run up down test test-unit lint typecheck check bench bench-quick bench-scale bench-outbox clean

help:
	@echo "make run    the whole system with demo data in the foreground (Ctrl-C stops it)"
	@echo "make up     the same in the background; make down stops it (data kept)"
	@echo "make test   the whole test suite on a real Kafka and PostgreSQL it starts itself"
	@echo "make check  ruff + mypy --strict;  make bench  the benchmarks"

install:
	@$(UV) sync --frozen --quiet

run: install
	@$(PY) python deploy/local/system.py run

up: install
	@$(PY) python deploy/local/system.py up

down: install
	@$(PY) python deploy/local/system.py down

test: install
	@deploy/local/ensure-tools.sh >/dev/null
	@$(PY) pytest

test-unit: install
	@$(PY) pytest -m "not integration"

lint: install
	@$(PY) ruff check .
	@$(PY) ruff format --check .

typecheck: install
	@$(PY) mypy libs/common/src libs/common/tests apps/cli/src apps/cli/tests services/*/src services/*/tests deploy/local tests conftest.py bench

check: lint typecheck

bench: install
	@$(PY) python bench/run.py

bench-quick: install
	@$(PY) python bench/run.py --quick

# the 1,000,000-account rescore, sweep and import with their floors (separate: they take long);
# SCALE_ARGS="--only sweep --accounts 50000" picks parts and size
bench-scale: install
	@$(PY) python bench/scale.py $(SCALE_ARGS)

# a large run of events through the outbox relay against the raw produce floor (EVENTS=200000)
bench-outbox: install
	@$(PY) python bench/outbox.py --events $(or $(EVENTS),200000)

clean:
	rm -rf .stack-test .pytest_cache .mypy_cache .ruff_cache
