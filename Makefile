# Every target sets up its own virtual environment first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup setup-ray run test test-fast test-fault test-browser test-ray lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,browser]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/qtc run --demo --quiet

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# the edit-run loop: everything but the slow scenario tests
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -x

# crash-point harness, kill storm and the other long fault suites (run by .ci/run)
test-fault: $(STAMP)
	$(BIN)/pytest tests/fault -p no:cacheprovider

# the pages in a real headless Chromium (Debian's /usr/bin/chromium) against a live `qtc run`
test-browser: $(STAMP)
	$(BIN)/pytest tests/browser -m browser -p no:cacheprovider

# strategies on a real local Ray cluster the tests start (needs the ray extra, installed here)
RAY_STAMP := $(VENV)/.installed-ray

$(RAY_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,browser,ray]'
	touch $(RAY_STAMP)

setup-ray: $(RAY_STAMP)

test-ray: $(RAY_STAMP)
	$(BIN)/pytest tests/ray -m ray -p no:cacheprovider

test: lint typecheck unit

bench: $(RAY_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
