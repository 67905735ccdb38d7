# gradwire: `make demo` and `make test` each do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    := out
# Root installs system packages directly; anyone else through sudo when there is one.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: demo test quick lint bench lab setup setup-test system-graphviz system-chromium clean

demo: setup system-graphviz
	$(VENV)/bin/gradwire demo --out $(OUT)

test: setup-test system-graphviz system-chromium
	$(PY) -m pytest -q --doctest-modules autodiff nn visualize tests
	$(MAKE) lint

# The tests without the ones marked slow (browser, notebooks, long training runs).
quick: setup-test system-graphviz
	$(PY) -m pytest -q -m "not slow" --doctest-modules autodiff nn visualize tests

# ruff (lint and format) and mypy, configured in pyproject.toml; both come with the
# test extra, so this installs nothing more than `make test` does.
lint: setup-test
	$(PY) -m ruff check autodiff nn visualize tests benchmarks
	$(PY) -m ruff format --check autodiff nn visualize
	$(PY) -m mypy

bench: setup-test
	$(PY) benchmarks/run.py

# The notebooks in JupyterLab (installs jupyterlab into the venv the first time).
lab: setup system-graphviz
	@$(PY) -c "import jupyterlab" 2>/dev/null || $(PIP) install -q -e '.[lab]'
	$(VENV)/bin/jupyter lab notebooks/

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[all]'
	touch $@

# torch is pinned (==2.13.0): pip takes the CPU wheel from this machine's disk.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

system-graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "Graphviz 'dot' not found: installing the Debian package graphviz"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q graphviz; } \
	  || { echo "could not install Graphviz; install it yourself (apt-get install graphviz, brew install graphviz)"; exit 1; }

system-chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "chromium not found: installing the Debian package chromium"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; } \
	  || { echo "could not install chromium (needed by the browser test)"; exit 1; }

clean:
	rm -rf $(OUT) build *.egg-info .pytest_cache
