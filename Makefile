# luckbook — the two commands:
#   make book   build the book into _build/html/index.html (executes every notebook once, the
#               chapters in parallel on every core; a failing cell or any warning fails it)
#   make test   ruff (lint and format); pytest over tests/; make book (the notebooks' one
#               execution); then the browser tests (tests/browser: headless Chromium over
#               _build/html, and JupyterLab driving the setting chapter's live panel)
# Also: `make book-student` (the book without solutions), `make lab` (JupyterLab on notebooks/),
# `make nbval` (the notebooks under pytest alone, for a quick check of one change).
# Both create .venv on first use and install requirements.txt plus the package
# (editable) into it; later runs reinstall only when requirements.txt or
# pyproject.toml changed (stamp file .venv/.installed).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := book
.DELETE_ON_ERROR:

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip --disable-pip-version-check
STAMP   := $(VENV)/.installed

# The package caches experiment results here; `make clean` removes it with _build.
export LUCKBOOK_CACHE_DIR := $(CURDIR)/_build/luckbook-cache

.PHONY: book book-student lab test nbval clean FORCE

# Jupyter Book's execution cache only notices changes to a notebook's own code; drop it
# when the package's code or LUCKBOOK_SCALE changed so that every output is recomputed.
FINGERPRINT = $$(cat $$(find luckbook -name '*.py' | sort) | sha256sum | cut -c1-16)-$${LUCKBOOK_SCALE:-book}

book: $(STAMP)
	@fp="$(FINGERPRINT)"; if [ "$$(cat _build/.luckbook-fingerprint 2>/dev/null)" != "$$fp" ]; then \
	  echo "==> luckbook code or scale changed: re-executing every notebook"; rm -rf _build/.jupyter_cache _build/.doctrees; fi
	@echo "==> tools/execute_notebooks.py: the chapters, executed on every core into the build's cache"
	$(PY) tools/execute_notebooks.py
	@echo "==> jupyter-book build . -W --keep-going"
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "$(FINGERPRINT)" > _build/.luckbook-fingerprint
	@test -f _build/html/index.html
	@echo "==> open $(CURDIR)/_build/html/index.html"

# The student edition of the book: the same pages with every exercise and no solution (the
# extension book/_ext/luckbook_solutions.py drops them). It reuses the execution cache of
# `make book`, so no notebook runs twice. Output: _build/student/_build/html/index.html.
book-student: book
	$(PY) tools/notebooks.py student-config _build/student/_config.yml
	$(VENV)/bin/jupyter-book build . --config _build/student/_config.yml --path-output _build/student -W --keep-going
	@test -f _build/student/_build/html/index.html
	@echo "==> open $(CURDIR)/_build/student/_build/html/index.html"

# JupyterLab with jupyterlab-myst (MyST directives -- theorem, exercise and solution boxes --
# render instead of showing as raw text), installed into .venv by requirements.txt, opened on
# notebooks/. Extra arguments: make lab LAB_ARGS="--no-browser --port 8899".
LAB_ARGS  ?=
lab: $(STAMP)
	@$(VENV)/bin/jupyter labextension list 2>&1 | grep -q "jupyterlab-myst.*OK" || \
	  { echo "make lab: jupyterlab-myst is not loaded by this JupyterLab (jupyter labextension list)" >&2; exit 1; }
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

# $(call PYTEST,args): run pytest; exit code 5 (no tests collected) counts as a failure.
PYTEST = rc=0; $(PY) -m pytest $(1) || rc=$$?; \
	if [ "$$rc" -eq 5 ]; then \
	  echo "make test: pytest $(1) collected no tests (exit code 5); treated as a failure" >&2; \
	  exit 1; \
	fi; \
	exit "$$rc"

# The browser tests open the built book, so they run after `make book` (which also proves
# the book builds with warnings as errors); they need Chromium (see README).
# The notebooks execute once, in the book build (warnings and cell errors fail it), not a
# second time under nbval: compute is CI's scarce resource.
test: $(STAMP)
	@echo "==> ruff check . && ruff format --check ."
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@echo "==> pytest tests --ignore=tests/browser -n auto"
	@$(call PYTEST,tests --ignore=tests/browser -n auto)
	@$(MAKE) --no-print-directory book
	@echo "==> pytest tests/browser (headless Chromium over _build/html, offline)"
	@$(call PYTEST,tests/browser -m browser)

nbval: $(STAMP)
	@$(call PYTEST,notebooks --nbval-lax)

clean:
	rm -rf _build

# A venv whose interpreter or pip is missing or broken (for example a
# `python3 -m venv` that died half-way) forces the install rule, which repairs it.
VENV_OK := $(shell $(PY) -c 'import pip' >/dev/null 2>&1 && echo yes)
ifneq ($(VENV_OK),yes)
$(STAMP): FORCE
endif

$(STAMP): requirements.txt pyproject.toml
	@if ! $(PY) -c 'import pip' >/dev/null 2>&1; then \
	  echo "==> creating virtual environment $(VENV)"; \
	  $(PYTHON3) -m venv $(VENV) || { \
	    echo "==> $(VENV) looks broken; recreating it from scratch"; \
	    $(PYTHON3) -m venv --clear $(VENV); \
	  }; \
	  $(PY) -c 'import pip' || { echo "make: could not create $(VENV) with $(PYTHON3) -m venv" >&2; exit 1; }; \
	fi
	@echo "==> pip install -r requirements.txt"
	$(PIP) install -q -r requirements.txt
	@echo "==> pip install -e ."
	$(PIP) install -q -e .
	@touch $@

FORCE:
