# The two commands (see README):  make demo   |   make test
# Both create the virtual environment .venv on first use and install everything.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip
STAMP   = $(VENV)/.ostl-installed

.PHONY: demo test test-all bench clean system-deps nest-mpi test-mpi mpi-deps peers

# Debian packages: headers the NEST models compile against, Fashion-MNIST (data set of the
# digits task), espeak-ng (the voices of the spoken-digits task), gcc-arm-none-eabi (the
# SpiNNaker kernels' cross compiler for the ARM968 cores) and qemu-user (benchmarks/bench_spinnaker.py
# counts the ARM objects' instructions under qemu-arm)
SYSTEM_PACKAGES = libboost-dev libltdl-dev libgsl-dev dataset-fashion-mnist espeak-ng gcc-arm-none-eabi qemu-user
SYSTEM_HEADERS  = /usr/include/boost/version.hpp /usr/include/ltdl.h /usr/include/gsl/gsl_errno.h \
                  /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz /usr/bin/espeak-ng \
                  /usr/bin/arm-none-eabi-gcc /usr/bin/qemu-arm

system-deps:
	@missing=0; for h in $(SYSTEM_HEADERS); do [ -e $$h ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing $(SYSTEM_PACKAGES) (for the NEST models and the data sets)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "note: the NEST models and the data sets need: apt-get install -y $(SYSTEM_PACKAGES) (as root); their tests will be skipped"; \
	  fi; \
	fi

$(STAMP): setup.cfg pyproject.toml requirements/constraints.txt | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	rm -rf ostl.egg-info   # stale metadata in the tree would hide the entry points
	$(PIP) install --quiet -c requirements/constraints.txt -e '.[test,bptt,brian2,nest,data,aihwkit,spinnaker]'
	touch $(STAMP)

## the main job: a short pattern-generation training demo on the reference engine
demo: $(STAMP)
	$(VENV)/bin/ostl train --task pattern_generation --steps 500 --iterations 150 --out demo-run

## two test processes (pytest-xdist), idle ones taking tests from busy ones: the two cores of the CI machine
PYTEST_PARALLEL ?= -n 2 --dist worksteal

## the test suite (what CI runs): the linter, NEST with MPI (built once, where it can be), the tests;
## the MPI tests (tests/test_nest_mpi.py) run .venv-mpi's Python on two processes
test: $(STAMP)
	$(VENV)/bin/ruff check --quiet .
	@if [ -e /usr/bin/mpicxx ] || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; }; then \
	  $(MAKE) --no-print-directory nest-mpi; \
	else echo "note: NEST with MPI needs: apt-get install -y $(MPI_PACKAGES) (as root); its tests will be skipped"; fi
	OSTL_MPI_PYTHON=$$([ -e $(MPI_STAMP) ] && echo $(CURDIR)/$(MPI_VENV)/bin/python) $(PY) -m pytest -q $(PYTEST_PARALLEL)

## everything, including the long runs marked slow and the long fuzzing profile
test-all: $(STAMP)
	$(VENV)/bin/ruff check --quiet .
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q -m "slow or not slow" $(PYTEST_PARALLEL)

## NEST with MPI (issue 22): NEST 3.10 built from its source distribution with Debian's OpenMPI
## into .venv-mpi, the project installed there and our module built against it. The NEST wheel
## is cached in $(NEST_MPI_WHEELS) (13-25 min to build on 2 cores the first time).
MPI_VENV         = .venv-mpi
MPI_STAMP        = $(MPI_VENV)/.ostl-installed
OSTL_CACHE_DIR  ?= $(HOME)/.cache/ostl
NEST_MPI_WHEELS  = $(OSTL_CACHE_DIR)/nest-mpi-wheels
MPI_PACKAGES     = libopenmpi-dev openmpi-bin

mpi-deps:
	@if [ ! -e /usr/bin/mpicxx ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing $(MPI_PACKAGES) (NEST with MPI)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(MPI_PACKAGES) >/dev/null; \
	  else echo "NEST with MPI needs: apt-get install -y $(MPI_PACKAGES) (as root)"; exit 1; fi; \
	fi

$(MPI_STAMP): setup.cfg pyproject.toml requirements/constraints.txt | system-deps mpi-deps
	@ls $(NEST_MPI_WHEELS)/nest_simulator-3.10.0-*.whl >/dev/null 2>&1 || { \
	  echo "building NEST 3.10.0 with MPI from its source distribution into $(NEST_MPI_WHEELS) (13-25 min, once)"; \
	  $(PYTHON) -m pip wheel --quiet --no-deps --no-binary nest-simulator nest-simulator==3.10.0 -w $(NEST_MPI_WHEELS) \
	    --config-settings=cmake.define.with-mpi=ON --config-settings=build.tool-args=-j2; }
	$(PYTHON) -m venv $(MPI_VENV)
	$(MPI_VENV)/bin/pip install --quiet --upgrade pip
	$(MPI_VENV)/bin/pip install --quiet $(NEST_MPI_WHEELS)/nest_simulator-3.10.0-*.whl
	rm -rf ostl.egg-info
	$(MPI_VENV)/bin/pip install --quiet -c requirements/constraints.txt -e '.[test,nest]' mpi4py
	$(MPI_VENV)/bin/python -c "import nest, sys; sys.exit(0 if nest.build_info['have_mpi'] else 'this NEST has no MPI')"
	$(MPI_VENV)/bin/ostl build-nest
	touch $(MPI_STAMP)

nest-mpi: $(MPI_STAMP)

## the MPI tests alone (two ranks; `make test` runs them too)
test-mpi: $(STAMP) $(MPI_STAMP)
	OSTL_MPI_PYTHON=$(CURDIR)/$(MPI_VENV)/bin/python $(PY) -m pytest -q tests/test_nest_mpi.py

bench: $(STAMP)
	$(PY) benchmarks/bench_reference.py

## the peer library of benchmarks/bench_peers.py (braintrace, JAX) in its own environment
PEERS_VENV = .venv-peers
peers: $(PEERS_VENV)/.ostl-installed
$(PEERS_VENV)/.ostl-installed: setup.cfg requirements/constraints.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/pip install --quiet -c requirements/constraints.txt '.[peers]'
	rm -rf build ostl.egg-info   # the wheel's build leftovers (stale metadata would hide .venv's entry points)
	touch $@

clean:
	rm -rf $(VENV) $(MPI_VENV) $(PEERS_VENV) demo-run ostl-run .pytest_cache
