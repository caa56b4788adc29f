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

.PHONY: venv lab test check lint labs bench doctor clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) $(LAB_ARGS) labs/00_orientation.ipynb

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
test: lint
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
