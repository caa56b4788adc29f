# The course's two commands: `make lab` (set up + open JupyterLab) and `make test`.
# Both create or refresh the local virtual environment .venv first (re-installing only when
# pyproject.toml or constraints.txt changed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# foolbox imports GitPython, which fails without `git` on PATH unless told to stay quiet.
export GIT_PYTHON_REFRESH := quiet

# Extra JupyterLab options, e.g. `make lab LAB_ARGS="--no-browser --port 9999"` on a remote machine.
LAB_ARGS ?=
# Jupyter refuses to run as root without being told; containers often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: venv lab test check lint labs bench doctor clean lock browser-deps hub-deps

# The environment comes from the lock (requirements/lock.txt, every package pinned; `make lock` refreshes
# it); `pip check` then fails loudly if pyproject.toml declares something the lock lacks.
LOCK := requirements/lock.txt

$(STAMP): pyproject.toml constraints.txt $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
	  echo "The lock $(LOCK) does not satisfy pyproject.toml: run 'make lock' and commit it."; exit 1; }
	@touch $(STAMP)

venv: $(STAMP)

# default_url: the URL JupyterLab prints (and opens) lands on lab 00, not on the Launcher.
# deploy/jupyterlab-settings/overrides.json: no "get notified about official Jupyter news?" pop-up on first
# start (fetchNews false) and no update check; news_url=None: the server fetches nothing (the course runs
# offline). tests/browser/ runs this very command (read with `make -n lab`).
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/labs/00_orientation.ipynb \
	  --LabApp.app_settings_dir="$(CURDIR)/deploy/jupyterlab-settings" --LabApp.news_url=None \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(ROOT_FLAG) $(LAB_ARGS)

# Static checks: lint, formatting, types and the layered import contract (see CONTRIBUTING.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Tests run in parallel (pytest-xdist): one worker per core (at most 4), one torch thread each
# (conftest.py), and whole files per worker (--dist loadfile) so a notebook's cells share a kernel.
# `make test XDIST=` runs them in one process.
XDIST ?= -n auto --maxprocesses 4 --dist loadfile

# Everything: the static checks, labkit's unit tests, and every solution notebook under nbval.
test: lint browser-deps hub-deps
	$(BIN)/python -m pytest $(XDIST) --durations 15

# The fast path while you work: static checks and the unit tests, without the slow ones (load
# tests, stubbed-lab runs) and without running the notebooks.
check: lint
	$(BIN)/python -m pytest tests -q -m "not slow" $(XDIST)

labs: $(STAMP)
	$(BIN)/labkit build-labs
	$(BIN)/labkit course-map --write

# PGD against the hand loop and the libraries (bench/RESULTS.md); add the notebooks with
# `$(BIN)/python bench/run.py --notebooks --no-pgd` (slow) and the setup time with --fresh-setup.
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/serving_throughput.py

doctor: $(STAMP)
	$(BIN)/labkit doctor

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

# Re-resolve the lock from pyproject.toml + constraints.txt, keeping existing pins where they still fit
# (`make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed versions). Commit the result.
# Machine-local package sources stay out of the file. The lock is for CPython 3.11 (any platform:
# no hashes, as the torch wheels differ per platform).
LOCK_ARGS ?=
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'pip-tools>=7.4'
	$(BIN)/pip-compile --quiet --extra dev --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links --constraint constraints.txt $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml

# The browser test's needs: Debian's chromium and an emoji-capable font (apt, as root).
browser-deps:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi 'noto color emoji'; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji; \
	else echo "browser-deps: chromium or fonts-noto-color-emoji is missing and this is not a root Debian shell:"; \
	  echo "  run 'sudo apt-get install chromium fonts-noto-color-emoji' (tests/browser/ skips without them)."; fi

# The JupyterHub test's proxy: configurable-http-proxy from npm, installed locally into .hub/.
hub-deps:
	@if [ -x .hub/node_modules/.bin/configurable-http-proxy ]; then :; \
	elif command -v npm >/dev/null; then npm install --silent --prefix .hub configurable-http-proxy@5; \
	else echo "hub-deps: npm is missing: 'apt-get install nodejs npm' (tests/test_hub.py skips without it)."; fi
