# The two commands a learner needs: `make lab` and `make test`. Everything else builds on them.
# A virtual environment is made in .venv on first use, with the pinned versions of pyproject.toml
# (the whole resolved set is fixed by constraints.txt).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
# One torch thread everywhere: the lessons' tensors are small, and on a busy 2-core machine two OpenMP
# threads spin against each other (5x to 50x slower, measured: benchmarks/threads.py). `import minidiff`
# sets it for the lab, scripts and homework (MINIDIFF_THREADS=2 or =all changes it); the tests and the
# rendered course also pass it on to their kernels. Override with `make test OMP_NUM_THREADS=2`.
OMP_NUM_THREADS ?= 1

.PHONY: lab homework test course bench hooks chromium clean help

help:
	@echo "make lab     open your copy of the lessons (lab/) in JupyterLab (creates .venv on first use)"
	@echo "make test    run every unit test and every notebook in fast mode"
	@echo "make homework  grade your homework in lab/homework/ (ASSIGNMENT=01_schedule: one; homework/README.md)"
	@echo "make course  run every notebook in full mode and write HTML to build/course/"
	@echo "make bench   print one report of the speed and quality benchmarks (BENCH_FLAGS=--quick: a short one)"
	@echo "make hooks   (contributors) strip notebook outputs automatically on git add and commit"
	@echo "make chromium  install Chromium for the browser test of make test (skipped without it)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "minidiff needs Python 3.11 or newer, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[lab,test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (minidiff)" >/dev/null
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp scripts/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $@

# Jupyter refuses to run as root unless told to (containers and CI machines often are root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

# The lab opens the learner's own copy of the lessons, lab/ (git-ignored): edits and autosaved outputs
# stay there, so `make test` (which checks notebooks/) and `git pull` never trip over them.
lab: $(STAMP)
	$(BIN)/python scripts/working_copy.py
	$(BIN)/python homework/start.py
	$(BIN)/jupyter lab --ServerApp.port=$(PORT) $(ROOT_FLAG) $(LAB_FLAGS) lab/00_start_here.ipynb

# The homework graders (homework/README.md): copies the starters the learner lacks to lab/homework/ (never
# overwrites), then grades. addopts is emptied: the repository's are for the notebooks.
homework: $(STAMP)
	@$(BIN)/python homework/start.py --quiet
	OMP_NUM_THREADS=$(OMP_NUM_THREADS) $(BIN)/python -m pytest homework/$(ASSIGNMENT) -o addopts= -p no:nbval -p no:cacheprovider

# For contributors editing notebooks/ itself: git stores them without outputs whatever JupyterLab saved.
hooks: $(STAMP)
	git config filter.strip-outputs.clean "$(abspath $(BIN))/python scripts/strip_outputs.py"
	git config filter.strip-outputs.smudge cat
	@echo "notebooks/*.ipynb are now stored without outputs (see .gitattributes)"

# Tests run on every core (pytest-xdist), one torch thread each; a notebook stays on one worker.
TEST_JOBS ?= auto
test: $(STAMP)
	OMP_NUM_THREADS=$(OMP_NUM_THREADS) MINIDIFF_FAST=1 $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile

# tests/test_browser.py (part of `make test`) moves every lesson's sliders in Debian's Chromium through
# Playwright (the test extra); it is skipped when Chromium is missing. Root gets it from apt.
chromium:
	@if [ -x /usr/bin/chromium ]; then echo "Chromium is installed: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
		|| echo "Could not install Chromium with apt: the browser test will be skipped"; \
	else echo "The browser test needs Chromium: sudo apt-get install chromium, or set CHROMIUM=/path/to/chromium"; fi

course: $(STAMP)
	mkdir -p build/course
	rm -f build/course/times.txt
	@for nb in notebooks/*.ipynb; do \
		start=$$(date +%s); \
		MINIDIFF_FAST=0 OMP_NUM_THREADS=$(OMP_NUM_THREADS) $(BIN)/jupyter nbconvert --to html --execute \
			--ExecutePreprocessor.timeout=900 --log-level=WARN --output-dir build/course $$nb || exit 1; \
		seconds=$$(( $$(date +%s) - start )); \
		echo "$$(basename $$nb .ipynb) $$seconds" >> build/course/times.txt; \
		echo "$$nb: $$seconds s in full mode"; \
	done
	$(BIN)/python scripts/course_index.py build/course

# One report (benchmarks/report.py, Markdown on stdout): the machine, each lesson's run time in fast and
# full mode (median of 3), the sampler table, training steps per second of every shipped model, slider
# redraw times and the quality figures the checkpoints recorded. It takes about 1 h 45 min on the 2-core
# CPU: the lessons 3 times in full mode about 70 min, 3 times in fast mode about 12, the sampler table
# 16 (measured alone), throughput 4, sliders 1. BENCH_FLAGS=--quick is a smoke run of about 5 minutes;
# --lessons 00 03, --modes fast, --skip samplers ..., --fast-benchmarks pick parts
# (python benchmarks/report.py --help). Each benchmark also runs alone: python benchmarks/samplers.py,
# benchmarks/widgets.py, benchmarks/latent.py, benchmarks/sampler_overhead.py, benchmarks/zero_snr.py,
# benchmarks/threads.py (1, 2 and all torch threads, idle and beside a competing job).
bench: $(STAMP)
	OMP_NUM_THREADS=$(OMP_NUM_THREADS) $(BIN)/python benchmarks/report.py $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) build
