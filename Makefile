# memberseg: `make demo` and `make test` work on a fresh machine with no AWS account. `make help` lists the targets.
# PYTHON only makes the venv; every target runs $(PY), the venv's interpreter.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The as-of date of demo, demo-cli and serve: the samples' documented numbers assume it. `AS_OF=` means today.
AS_OF ?= 2026-11-15

.DEFAULT_GOAL := help
.PHONY: help venv system-deps lint lint-python format demo demo-cli test test-unit bench bench-max examples clean

## This list: every target with what it does.
help:
	@awk '/^## /{doc = doc (doc ? " " : "") substr($$0, 4); next} /^[a-z][a-z0-9-]*:/{if (doc) {split($$1, t, ":"); printf "  %-16s %s\n", t[1], doc}; doc = ""} !/^## /{if (!/^[a-z][a-z0-9-]*:/) doc = ""}' $(MAKEFILE_LIST)


include infra/infra.mk
include infra/api.mk

## The venv with the package, its test and lint extras, and the serverless test dependencies.
venv: $(STAMP)

$(STAMP): pyproject.toml $(wildcard requirements-dev.txt)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -e ".[test,lint]"
	if [ -f requirements-dev.txt ]; then $(PY) -m pip install --quiet -r requirements-dev.txt; fi
	touch $(STAMP)

## The plain CLI on the bundled sample workbooks.
demo-cli: venv
	rm -rf out
	$(VENV)/bin/memberseg run --memberships examples/memberships.xlsx --orders examples/orders.xlsx \
		--out out --as-of $(AS_OF)

## The main job on the bundled samples: local S3 (moto on 127.0.0.1) -> event -> function -> ./out/
demo: demo-s3

## Chromium and LibreOffice for the browser and workbook tests: installed with apt-get when missing
## (as root), otherwise one line saying what to install.
system-deps:
	bash infra/system-deps.sh

LINT_DIRS := layers functions infra scripts
TYPED_DIRS := layers/memberseg/memberseg layers/memberseg/memberseg_aws functions/api functions/process_upload functions/hubspot_push infra scripts
## ruff (rules in pyproject.toml) and mypy over the engine, the functions, infra and scripts.
lint-python: venv
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/mypy $(TYPED_DIRS)

## Apply ruff's safe fixes (import order, modern syntax) to what `lint-python` checks.
format: venv
	$(VENV)/bin/ruff check --fix $(LINT_DIRS)

## Python lint and types, then the infrastructure checks (sam validate, cfn-lint, checkov, sam build).
lint: lint-python lint-infra

## The full suite, after the system packages it drives and every lint check.
test: system-deps venv lint
	$(PY) -m pytest -q

## The unit tests only (no AWS, sockets off): the fast loop while you work. `make test` stays the full suite.
test-unit: venv
	$(PY) -m pytest -q tests/unit

## Benchmarks: 200k memberships + 1M orders (naive pipeline once, memberseg median of 3, their ratio), then
## how fast the CLI refuses bad files (before any heavy import), then a series of two runs with 1% of the
## customers changed (the contacts the second push sends, the time --since adds); bench-max: the Excel-maximum inputs.
bench: venv
	$(PY) scripts/bench.py --size standard --runs 3
	$(PY) scripts/refusal_bench.py --runs 5
	$(PY) scripts/series_bench.py --runs 3

bench-max: venv
	$(PY) scripts/bench.py --size excel-max --runs 1 --naive-runs 0

## Rewrite the bundled sample files and examples/README.md (seeded: the same bytes every time).
examples: venv
	$(PY) scripts/make_examples.py
	$(PY) scripts/make_platform_examples.py

## Remove outputs and caches (not the venvs).
clean:
	rm -rf out .pytest_cache .hypothesis build
