# Chorus — every workflow is a make target. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
REPLICAS ?= 1
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: help install run check-run test test-unit test-integration lint format proto proto-check \
        stack-up stack-down stack-status stack-reset topics bench clean k8s-check k8s-topics browser screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## create .venv from uv.lock (installs uv from PyPI if missing)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
	  || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --all-packages --frozen --quiet

run: install stack-up ## start the local stack and every service in the foreground (REPLICAS=2: two of each; Ctrl-C stops)
	@REPLICAS="$(REPLICAS)" tools/run.sh

check-run: install ## with `make run` up: share once and fail unless it is scored within a second
	@$(VENV)/bin/chorus-demo --quiet --check

test: install proto-check lint k8s-check stack-up browser ## everything CI runs: contracts, lint, manifests, unit, integration and browser tests
	@$(PY) -m pytest

browser: ## install Debian's chromium for the browser tests when it is missing
	@tools/ensure-chromium.sh

screenshots: install stack-up browser ## retake the hub screenshots in docs/img with the browser test
	@CHORUS_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/integration/test_journey.py -k "in_the_browser or dashboard"

test-unit: install ## unit tests only (no infrastructure)
	@$(PY) -m pytest libs/kit/tests services

test-integration: install stack-up browser ## integration tests against the local stack
	@$(PY) -m pytest tests

DISTRIBUTIONS := libs/kit libs/demo libs/simulator services/content services/distribution services/engagement services/gamification services/insights services/hub

lint: install ## ruff (lint + format check), mypy, and every distribution declares what it imports (deptry)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check --quiet .
	@$(VENV)/bin/mypy
	@$(UV) lock --check --quiet || { echo "uv.lock is stale: run 'uv lock'"; exit 1; }
	@for d in $(DISTRIBUTIONS); do \
	  out=$$(cd $$d && $(CURDIR)/$(VENV)/bin/deptry --no-ansi src 2>&1) || { echo "deptry $$d:"; echo "$$out"; exit 1; }; \
	done
	@$(PY) tools/check_namespace_imports.py

format: install ## apply ruff's fixes and formatting
	@$(VENV)/bin/ruff check --fix --quiet .
	@$(VENV)/bin/ruff format --quiet .

k8s-check: install ## render every deploy/k8s overlay and validate it strictly against the Kubernetes and CRD schemas
	@tools/k8s-check.sh

k8s-topics: install ## regenerate the Strimzi KafkaTopic manifests from the topic registry
	@tools/k8s-check.sh topics

proto: install ## regenerate the Python contracts from proto/
	@tools/proto.sh gen

proto-check: install ## buf lint, and fail when the generated code is stale
	@tools/proto.sh check

stack-up: install ## start Kafka and MongoDB (a one-member replica set) in the background (idempotent) and create the topics
	@deploy/local/stack.sh up
	@$(VENV)/bin/chorus topics create

stack-down: ## stop Kafka and MongoDB (data is kept in .local/)
	@deploy/local/stack.sh down

stack-status: ## show whether Kafka and MongoDB run
	@deploy/local/stack.sh status

stack-reset: ## stop the stack and delete its data
	@deploy/local/stack.sh reset

bench: install stack-up ## run every benchmark in bench/, one JSON line each
	@for b in bench/*.py; do case "$$b" in */_*) continue;; esac; $(PY) "$$b" || exit 1; done

clean: ## remove caches (keeps .local/ data and downloads)
	@rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
