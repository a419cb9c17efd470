# Archway: `make run` starts the gateway on the built-in simulator; `make test` runs every test.
SWIFT ?= swift
PYTHON ?= python3
VENV := .venv
BIN := .build/debug/archway
CONFIG ?= examples/quickstart.yaml

.PHONY: build run test test-swift test-e2e venv check clean

build:
	$(SWIFT) build --build-tests

run: build
	$(BIN) serve --config $(CONFIG)

check: build
	$(BIN) check --config $(CONFIG)

# The end-to-end tests' Python environment, with pinned packages (official openai, anthropic and
# opentelemetry-proto packages).
venv: $(VENV)/.installed

$(VENV)/.installed: Tests/e2e/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/e2e/requirements.txt
	touch $@

test: test-swift test-e2e

test-swift: build
	$(SWIFT) test --skip-build

test-e2e: build venv
	ARCHWAY_BIN=$(CURDIR)/$(BIN) $(VENV)/bin/python -m pytest -q Tests/e2e

clean:
	rm -rf .build $(VENV)
