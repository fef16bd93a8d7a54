# make lab   - set up .venv and open JupyterLab on the start-here notebook, in your own copies of the
#              lessons (my-notebooks/; PORT=8888, LAB_ROOT=., LAB_ARGS=...)
# make venv  - set up .venv with what the lessons use (requirements.txt and the package), and stop
# make test  - add the test tools to .venv, run the unit tests and every notebook under strict nbval,
#              then `make test-versions`
# make test-versions - the unit tests on each other tested Python found, each in a venv of its
#              own (.venv-3.11, ... .venv-3.15), and every notebook on the oldest and the newest
# make notebooks - re-execute every notebook in place (refreshes stored outputs)
# make bench - notebook times, lab-server throughput, the virtual clock, the live panels' redraws
#              and the set-up time (BENCH_ARGS=--server-only, --clock-only, --panels-only,
#              --setup-only or --notebooks-only: one table)
# make lock  - resolve pyproject.toml's learner and test groups into uv.lock and write them out as
#              requirements.txt and requirements-test.txt (LOCK_ARGS=--upgrade moves every pin to
#              the newest release)
#
# .venv is built with Python 3.14 (the stored outputs' version) when it is found on PATH or in
# pyenv's versions, else the newest tested one found; PYTHON=python3.15 (a name or a path)
# picks another, and a different one rebuilds .venv.

PYTHON ?=
# Tested versions: tools/find_python.py lists them (3.11 to 3.15); outputs are recorded on 3.14,
# the Python most learners have.
OLDEST_TESTED := 3.11
NEWEST_TESTED := 3.15
RECORDED_ON := 3.14
# Whatever python3 there is runs the finder (and the lock tool's venv).
PYTHON3 := $(shell command -v python3 || command -v python)
FIND_PYTHON := $(PYTHON3) tools/find_python.py
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PORT ?= 8888

.PHONY: lab venv test unit nbval test-versions notebooks bench lock clean FORCE

venv: $(STAMP)

# find_python.py makes the venv afresh only when it was made with another interpreter (or
# is missing), and only then is pyvenv.cfg rewritten: make sees the change and reinstalls.
$(VENV)/pyvenv.cfg: FORCE
	@$(FIND_PYTHON) --venv $(VENV) $(PYTHON)

# The stamps are older than their inputs when the pins or the package metadata change,
# so a stale venv is brought up to date by the next make. Learners get requirements.txt;
# the test tools in requirements-test.txt go in only for the targets that use them.
# binder/postBuild puts the JupyterLab settings in place, here as on Binder.
# The venv's own pip is new enough for the pins; --no-compile leaves byte-compiling to the
# first import of each module, which skips the thousands of files nothing imports (a third of
# the install's time).
PIP_INSTALL = $(BIN)/python -m pip install --quiet --no-compile
# That first import writes the bytecode, so every later one (each kernel, each subprocess a
# test starts) reads it: with PYTHONDONTWRITEBYTECODE set, as some CI images set it, every
# Python started here would compile matplotlib, numpy and aiohttp again, about 3 s a kernel.
unexport PYTHONDONTWRITEBYTECODE
$(STAMP): $(VENV)/pyvenv.cfg requirements.txt pyproject.toml binder/postBuild jupyterlab-settings/overrides.json
	$(PIP_INSTALL) -r requirements.txt
	$(PIP_INSTALL) --no-deps -e .
	NB_PYTHON_PREFIX=$(VENV) binder/postBuild
	@touch $@

$(TEST_STAMP): $(STAMP) requirements-test.txt
	$(PIP_INSTALL) -r requirements-test.txt
	@touch $@

# JupyterLab refuses to run as root without --allow-root (containers, CI machines).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=
LAB_ROOT ?= .

# The learner works in copies (my-notebooks/, ignored by git), brought up to date from notebooks/
# at each start, so running a lesson never changes the clone and `git pull` always works.
MY_NOTEBOOKS := my-notebooks

lab: $(STAMP)
	@$(BIN)/python tools/my_notebooks.py notebooks $(LAB_ROOT)/$(MY_NOTEBOOKS)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(LAB_ROOT) --ServerApp.port=$(PORT) $(ALLOW_ROOT) \
		--LabApp.default_url=/lab/tree/$(MY_NOTEBOOKS)/00_start_here.ipynb $(LAB_ARGS)

# Strict nbval runs every notebook on the recorded Python, and a leak warning there is an output
# it rejects; so on that Python the unit tests leave their leak check (every notebook run once
# more) to the other versions. Each part runs and reports even when an earlier one failed.
test: $(TEST_STAMP)
	@status=0; \
	if $(BIN)/python -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(RECORDED_ON)")'; then \
		leaks="by strict nbval on this Python"; else leaks=; fi; \
	LEAKS_CHECKED_BY=$$leaks $(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory nbval || status=1; \
	$(MAKE) --no-print-directory test-versions || status=1; \
	exit $$status

PYTEST = $(BIN)/python -m pytest
# One cell time limit everywhere: the one tools/execute_notebooks.py runs notebooks with.
CELL_TIMEOUT = $(shell sed -n 's/^CELL_TIMEOUT = \([0-9]*\).*/\1/p' tools/execute_notebooks.py)
UNIT_ARGS ?=
unit: $(TEST_STAMP)
	$(PYTEST) -q tests $(UNIT_ARGS)

# Stored outputs are what Python $(RECORDED_ON) prints; on another version they are not compared
# (the unit tests' leak check still runs every notebook).
nbval: $(TEST_STAMP)
	@if $(BIN)/python -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(RECORDED_ON)")'; then \
		$(PYTEST) -q -p no:cacheprovider --nbval --nbval-current-env \
			--nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout $(CELL_TIMEOUT) notebooks; \
	else \
		echo "nbval: skipped, the stored outputs were recorded on Python $(RECORDED_ON) and $(VENV) has $$($(BIN)/python -V)"; \
	fi

# Each other tested Python runs the unit tests in its own venv. On the oldest and the newest,
# their leak check runs every notebook top to bottom (errors only in cells tagged
# raises-exception, no leak warning); the versions between run the unit tests alone, to keep CI
# inside its time budget (every notebook already runs on both ends, on the recorded one under
# strict nbval, and in the browser).
# The browser test drives `make lab`, the set-up and bench tests check the repository's files
# and tools rather than the package, and the panels' every-knob test draws pictures (nothing in
# it depends on the Python version; each panel's own test checks its numbers everywhere): they
# run once, in .venv.
OTHER_VERSIONS_SKIP = --ignore=tests/test_jupyterlab.py --ignore=tests/test_setup_files.py --ignore=tests/test_bench.py \
	--deselect tests/test_panels.py::test_every_knob_changes_the_picture
test-versions:
	@$(FIND_PYTHON) --others $(VENV) | { failed=; while read -r version python; do \
		if [ "$$version" = "$(OLDEST_TESTED)" ] || [ "$$version" = "$(NEWEST_TESTED)" ]; then \
			leaks=; what="unit tests and every notebook"; \
		else leaks="on Python $(OLDEST_TESTED) and $(NEWEST_TESTED), and in $(VENV)"; what="unit tests"; fi; \
		echo "== Python $$version: $$what, in .venv-$$version"; \
		LEAKS_CHECKED_BY="$$leaks" $(MAKE) --no-print-directory VENV=.venv-$$version PYTHON=$$python unit \
			UNIT_ARGS="$(OTHER_VERSIONS_SKIP)" </dev/null || failed="$$failed $$version"; \
	done; test -z "$$failed" || { echo "test-versions: failed on Python$$failed"; exit 1; }; }

notebooks: $(TEST_STAMP)
	$(BIN)/python tools/course_map.py
	$(BIN)/python tools/execute_notebooks.py notebooks/*.ipynb

bench: $(TEST_STAMP)
	$(BIN)/python tools/bench.py $(BENCH_ARGS)

# uv resolves the two dependency groups in pyproject.toml (learner, test) at once into uv.lock,
# for Linux, macOS and Windows and every Python from the oldest tested one up, forking a
# package by Python version where no one release has wheels for all of them; it keeps the
# versions already in uv.lock unless they no longer fit. The two requirements files are
# written from uv.lock, and tools/lock_wheels.py then checks from uv.lock's file lists that
# every pin has a wheel for each tested Python on each platform (no source build for anyone).
LOCK_ARGS ?=
LOCKER := uv==0.13.9 packaging==26.4
UV := .lock-venv/bin/uv
EXPORT := $(UV) export --quiet --frozen --format requirements-txt --no-hashes --no-emit-project

lock: $(UV)
	$(UV) lock --quiet --python-preference only-system $(LOCK_ARGS)
	$(EXPORT) --only-group learner -o requirements.txt
	$(EXPORT) --only-group test -o requirements-test.txt
	.lock-venv/bin/python tools/lock_wheels.py

$(UV):
	rm -rf .lock-venv && $(PYTHON3) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet $(LOCKER)

clean:
	rm -rf $(VENV) $(VENV)-3.* .lock-venv .pytest_cache
