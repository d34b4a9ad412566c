# Entry points for people and CI. `make demo` and `make test` install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

CARGO ?= cargo
VENV := $(CURDIR)/.venv

.PHONY: setup build demo test lint fmt bench

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

## test: every test: build all targets, unit and end-to-end tests
test: export PATH := $(VENV)/bin:$(PATH)
test: setup
	$(CARGO) build --workspace --all-targets
	$(CARGO) test --workspace

## lint: formatting and clippy (warnings are errors)
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fmt: format all Rust code
fmt:
	$(CARGO) fmt --all

## bench: benchmarks (none yet)
bench:
	@echo "no benchmarks yet"
