# Entry points for people and CI. `make demo` and `make test` install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

CARGO ?= cargo
VENV := $(CURDIR)/.venv

.PHONY: setup build demo demo-ha test wheel test-python pytest lint fmt bench fuzz

## setup: install missing Debian packages and the Python virtualenv (.venv); idempotent
setup:
	bash scripts/setup

## build: compile the whole workspace
build:
	$(CARGO) build --workspace

## demo: full backup -> change -> point-in-time restore on a throwaway local cluster
demo: export PATH := $(VENV)/bin:$(PATH)
demo: setup
	$(CARGO) build -p pitr-cli
	target/debug/pitr sandbox

## demo-ha: the high-availability demo on a throwaway Patroni cluster (etcd + two members): backups
## from every member, a switchover, a kill -9 failover, continuity, restores across them
demo-ha: export PATH := $(VENV)/bin:$(PATH)
demo-ha: setup
	$(CARGO) build -p pitr-cli
	target/debug/pitr sandbox --ha

## test: every test: build all targets, then unit, end-to-end and Python tests in three lanes
## at once (scripts/test-lanes: the Patroni tests, the slow fault tests, everything else; logs in
## target/test-logs). The fuzz smoke run is one of them: pitr-core's tests/fuzz_seeds.rs passes
## every seed in fuzz/seeds through its target.
test: export PATH := $(VENV)/bin:$(PATH)
test: setup
	$(CARGO) build --workspace --all-targets
	$(MAKE) --no-print-directory wheel
	CARGO=$(CARGO) MAKE=$(MAKE) bash scripts/test-lanes

PYTHON := $(VENV)/bin/python
WHEEL_DIR := $(CURDIR)/target/wheels

## wheel: build the pitr wheel (maturin) and install it into .venv (the HA end-to-end test calls
## the Python module too, so `make test` runs this before the Rust tests)
wheel: export PATH := $(VENV)/bin:$(PATH)
wheel: setup
	rm -f $(WHEEL_DIR)/pitr-*.whl
	cd pitr-py && $(VENV)/bin/maturin build --quiet --interpreter $(PYTHON) --out $(WHEEL_DIR)
	$(PYTHON) -m pip install --disable-pip-version-check --quiet --force-reinstall --no-deps $(WHEEL_DIR)/pitr-*.whl

## test-python: the wheel into .venv, then pytest (Python API, docs, Ansible modules and playbooks
## on real PostgreSQL) and the stub check (mypy stubtest)
test-python: setup wheel
	$(CARGO) build -p pitr-cli
	$(MAKE) --no-print-directory pytest

## pytest: test-python without set-up, wheel and pitr binary (make test's rest lane runs it after
## building them)
pytest: export PATH := $(VENV)/bin:$(PATH)
pytest: export MYPY_CACHE_DIR := $(CURDIR)/.mypy_cache
pytest:
	cd tests/python && $(PYTHON) -m mypy.stubtest pitr
	cd tests/python && $(PYTHON) -m mypy -p pitr && $(PYTHON) -m mypy .
	$(PYTHON) -m pytest tests/python

## lint: formatting and clippy (warnings are errors)
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fmt: format all Rust code
fmt:
	$(CARGO) fmt --all

## fuzz: run every cargo-fuzz target (fuzz/) for FUZZ_SECONDS each (default 60) on the nightly
## toolchain, from the seeds in fuzz/seeds; prints executions per target, fails on a crash
## (see docs/testing.md). `make fuzz FUZZ_SECONDS=600` for a longer run.
FUZZ_SECONDS ?= 60
fuzz:
	bash scripts/setup --fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz

## bench: benchmarks, each figure beside a baseline measured in the same run (see docs/benchmarks.md);
## the end-to-end part prints where pitr's restore and a drill spend their time, phase by phase,
## beside the bare pgBackRest sequence's, with the load average
bench: export PATH := $(VENV)/bin:$(PATH)
bench: setup
	$(CARGO) build --release -p pitr-cli
	$(CARGO) bench -p pitr-core --bench planning -- --warm-up-time 2 --measurement-time 5
	$(CARGO) bench -p pitr-core --bench render -- --warm-up-time 2 --measurement-time 5
	$(CARGO) run --quiet --release -p pitr-core --example plan_at_scale -- --write target/bench-scale
	$(CARGO) run --quiet --release -p pitr-core --example plan_at_scale -- --read target/bench-scale
	cd pitr-py && $(VENV)/bin/maturin build --release --quiet --interpreter $(PYTHON) --out $(CURDIR)/target/wheels-release
	$(PYTHON) -m pip install --disable-pip-version-check --quiet --force-reinstall --no-deps $(CURDIR)/target/wheels-release/pitr-*.whl
	$(PYTHON) pitr-py/bench/plan_at_scale.py target/bench-scale
	$(PYTHON) pitr-py/bench/render_vs_jinja.py
	$(CARGO) bench -p pitr-tests --bench e2e
