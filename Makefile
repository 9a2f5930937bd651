# Tollgate — the commands a developer and CI need. Only Python 3.11+ is assumed:
# uv is installed into .tools/ when it is not on PATH.
export UV_PYTHON_DOWNLOADS := never
SHELL := /bin/bash

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_ARGS ?=

.PHONY: install test lint format run bench clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

install: $(UV)
	$(UV) sync --all-packages --all-extras

test: install
	$(UV) run pytest $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: install
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

run: install
	$(UV) run tollgate run

bench: install
	$(UV) run python -m bench

clean:
	rm -rf var .tools
