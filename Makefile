# sfn-agents: `make demo` and `make test` are all a newcomer needs; both install what they use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 to match the Lambda runtime: pyenv's when present, else whatever python3.13 is on PATH.
PYTHON313 ?= $(shell PYENV_VERSION=3.13.0 python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3.13)
VENV := .venv
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export PATH := $(CURDIR)/$(BIN):$(PATH)

DEMO_QUESTION ?= Which team won the most games in 2024, and who hit the most home runs that season?
DEMO_SCRIPT := events/sql-agent-demo.script.json
HAS_ANTHROPIC_KEY := $(or $(ANTHROPIC_API_KEY),$(shell grep -s '^ANTHROPIC_API_KEY=.' .env))

include mk/tools.mk

.PHONY: help install demo test test-checks scaffold-check lint typecheck validate unit build bench deploy clean

help:
	@echo "make demo   - the SQL agent answers a question in the local engine (real Claude if"
	@echo "              ANTHROPIC_API_KEY is set, else the scripted offline model)"
	@echo "make test   - lint, type-check, validate the template and run every test"
	@echo "make build  - sam build (no Docker needed)"
	@echo "make bench  - performance figures (bench/)"
	@echo "make deploy - sam build, sam deploy --guided, then push .env keys to Secrets Manager"

$(BIN)/python:
	@test -n "$(PYTHON313)" || { echo "Python 3.13 is required (pyenv install 3.13)"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml layers/agent_core/requirements.txt functions/llm/anthropic/requirements.txt functions/api/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[functions,dev]"
	touch $@

# pip compiles the libraries it installs; this compiles ours (the engine, the layer, the
# handlers), which an editable install leaves out. Where PYTHONDONTWRITEBYTECODE is set (as in
# many containers and CI images) Python would otherwise compile them in every process it starts.
install: $(VENV)/.installed
	$(BIN)/python -m compileall -q -x '/(node_modules|target|\.[^/]+)/' src layers functions registry

demo: install
	$(BIN)/sfn-agents run sql-agent "$(DEMO_QUESTION)" $(if $(HAS_ANTHROPIC_KEY),,--script $(DEMO_SCRIPT))

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every function is a package of its own name, so one mypy run checks them all (pyproject.toml's
# mypy_path has their directories; a tool `sfn-agents new tool` adds joins it through MYPYPATH).
PYTHON_TOOLS := $(patsubst %/requirements.txt,%,$(wildcard functions/tools/*/requirements.txt))
PYTHON_PACKAGES := $(wildcard functions/llm/*/*_llm functions/tools/*/*_tool) functions/api/agent_api \
  functions/approval_metrics/approval_metrics registry/registry_sync

typecheck: install
	MYPYPATH=$(subst $(eval) ,:,$(PYTHON_TOOLS)) $(BIN)/mypy src layers/agent_core/agent_core $(PYTHON_PACKAGES)

validate: install
	$(BIN)/sfn-agents generate --check
	$(BIN)/sam validate --lint

# The web UI's end-to-end tests drive Debian's Chromium with Playwright (its own browser download
# is not used); mk/tools.mk installs it with the other Debian packages.
# pytest-xdist runs the tests on every core, each file whole on one worker (its module fixtures,
# moto servers and browsers, start once, and its tests keep their order), the files handed out in
# collection order, so each worker runs its end-to-end files first (tests/e2e/conftest.py says
# why); PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= auto
unit: install $(TOOLS_DIR)/debian.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The checks run side by side (downloads overlap compiles on two cores), each target's output
# printed whole when it ends; then pytest, which uses the tools' host builds.
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target test-checks
	$(MAKE) --no-print-directory unit

test-checks: lint typecheck validate tools-local-build tools-test $(TOOLS_DIR)/debian.installed

# new tool + new agent in a scratch copy, in every language (make test runs the Python one).
scaffold-check: install tools-install
	SCAFFOLD_LANGUAGES=python,typescript,go,java,rust $(BIN)/pytest tests/e2e/test_scaffold.py

# sam build leaves Python bytecode out; compiling it in (Python 3.13, as the runtime) spares every
# non-SnapStart cold start the compile.
build: install tools-sam-prereqs
	$(BIN)/sfn-agents generate
	$(SAM_BUILD_ENV) $(BIN)/sam build
	$(BIN)/python -m compileall -q --invalidation-mode unchecked-hash \
	  .aws-sam/build/AgentCoreLayer .aws-sam/build/*LlmFunction

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/agent_loop.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/follow_calls.py
	$(BIN)/python bench/conversation.py
	$(BIN)/python bench/context_fit.py

deploy: build
	$(BIN)/sam deploy --guided
	$(BIN)/sfn-agents secrets push

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
