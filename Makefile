# The two commands (see README):  make demo   |   make test
# Both create the virtual environment .venv on first use and install everything.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip
STAMP   = $(VENV)/.ostl-installed

.PHONY: demo test test-all bench clean

$(STAMP): setup.cfg pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c requirements/constraints.txt -e '.[test,bptt,brian2]'
	touch $(STAMP)

## the main job: a short pattern-generation training demo on the reference engine
demo: $(STAMP)
	$(VENV)/bin/ostl train --task pattern_generation --steps 500 --iterations 150 --out demo-run

## the test suite (what CI runs)
test: $(STAMP)
	$(PY) -m pytest -q

## everything, including the long runs marked slow
test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow"

bench: $(STAMP)
	$(PY) benchmarks/bench_reference.py

clean:
	rm -rf $(VENV) demo-run ostl-run .pytest_cache
