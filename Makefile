# Tollgate — the commands a developer and CI need. Only Python 3.11+ is assumed:
# uv is installed into .tools/ when it is not on PATH.
export UV_PYTHON_DOWNLOADS := never
SHELL := /bin/bash

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# The interpreter of .venv: the distribution's CPython when it is 3.11+ (Debian and Ubuntu build
# it with profile-guided and link-time optimisation), else the first Python 3.11+ uv finds. A
# source build without those (pyenv's default) ran the services a quarter to a third slower
# (bench/README.md). `make install PYTHON=/path/to/python` picks another.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo /usr/bin/python3)
ifneq ($(PYTHON),)
export UV_PYTHON := $(PYTHON)
endif
PYTEST_ARGS ?=
TEST_WORKERS ?= 2
FUZZING := tests/security/test_api_fuzzing.py

.PHONY: install test lint format run token bench clean asyncapi

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

# Installed packages are compiled to bytecode here, once (not by every `uv run`): where
# PYTHONDONTWRITEBYTECODE is set (CI images often set it) every service process would otherwise
# compile its imports from source on each start (its cost: bench/README.md).
install: $(UV)
	UV_COMPILE_BYTECODE=1 $(UV) sync --all-packages --all-extras

# Every test on TEST_WORKERS processes (pytest-xdist; a file's tests stay on one), then the
# schemathesis fuzzing alone: it runs its generated cases inside one test item, which a worker
# would report as passed without running them.
test: install
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadfile --ignore=$(FUZZING) $(PYTEST_ARGS)
	$(UV) run pytest $(FUZZING)

# ruff (with the bandit `S` rules), mypy, then pip-audit over the locked requirements. The audit
# needs the advisory data of the package index: when it cannot get them it says SKIPPED (and
# why, from var/pip-audit.log) instead of failing; a known vulnerability fails.
define AUDIT_SUMMARY
import json, sys
try:
    deps = json.load(sys.stdin)["dependencies"]
except ValueError:
    print("pip-audit: SKIPPED, no report (see var/pip-audit.log: no advisory data reachable?)")
    sys.exit(0)
vulnerable = [f"{d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
              for d in deps if d.get("vulns")]
skipped = sum("skip_reason" in d for d in deps)
if vulnerable:
    sys.exit("pip-audit: known vulnerabilities\n" + "\n".join(vulnerable))
if skipped == len(deps):
    print(f"pip-audit: SKIPPED, no advisory data for any of the {len(deps)} locked packages")
else:
    print(f"pip-audit: no known vulnerabilities in {len(deps) - skipped} packages"
          f" ({skipped} not audited)")
endef
export AUDIT_SUMMARY

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	@mkdir -p var; \
	$(UV) export --quiet --frozen --no-hashes --all-packages --all-extras --no-emit-workspace \
	  | $(UV) run pip-audit -r /dev/stdin --disable-pip --no-deps -f json \
	    --progress-spinner off 2>var/pip-audit.log \
	  | $(UV) run python -c "$$AUDIT_SUMMARY"

format: install
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

# `make run ARGS="--port-offset 1000"`: a second stack beside the first (see README).
run: install
	$(UV) run tollgate run $(ARGS)

# A development JWT on stdout, for a fresh shell without uv on PATH:
# `TOKEN=$$(make -s token ROLE=admin)`, `make -s token SUB=alice EMAIL=alice@example.com`,
# `make -s token SUB=org1 ROLE=organizer GROUP=g1`.
token: $(UV)
	@$(UV) run --quiet tollgate token $(if $(SUB),--sub $(SUB)) $(if $(ROLE),--role $(ROLE)) \
	  $(if $(GROUP),--group $(GROUP)) $(if $(EMAIL),--email $(EMAIL))

bench: install
	$(UV) run python -m bench

# The services' AsyncAPI documents in docs/asyncapi/, generated from their brokers (a test fails
# when they are stale). Fixed URLs: the documents do not depend on where this runs.
ASYNCAPI_ENV := env -i PATH="$(PATH)" HOME="$(HOME)" NATS_URL=nats://localhost:4222 \
	DATABASE_URL=postgresql://tollgate@localhost:5432/tollgate
asyncapi: install
	@mkdir -p docs/asyncapi
	@for service in webhook-gateway checkout membership ledger notifications; do \
	  $(ASYNCAPI_ENV) .venv/bin/$$service asyncapi > docs/asyncapi/$$service.json || exit 1; \
	done

clean:
	rm -rf var .tools
