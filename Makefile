# make lab   - set up .venv and open JupyterLab on the start-here notebook (PORT=8888, LAB_ROOT=., LAB_ARGS=...)
# make test  - set up .venv, run the unit tests and every notebook under strict nbval
# make notebooks - re-execute every notebook in place (refreshes stored outputs)
# make bench - notebook execution times and lab-server throughput tables (BENCH_ARGS=--server-only)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8888

.PHONY: lab test unit nbval notebooks bench lock clean

# The stamp is older than its inputs when the pins or the package metadata change,
# so a stale .venv is brought up to date by the next make.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required; got " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# JupyterLab refuses to run as root without --allow-root (containers, CI machines).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=
LAB_ROOT ?= .

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(LAB_ROOT) --ServerApp.port=$(PORT) $(ALLOW_ROOT) \
		--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb $(LAB_ARGS)

test: unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

nbval: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout 120 notebooks

notebooks: $(STAMP)
	$(BIN)/python tools/course_map.py
	$(BIN)/python tools/execute_notebooks.py notebooks/*.ipynb

bench: $(STAMP)
	$(BIN)/python tools/bench.py $(BENCH_ARGS)

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -r requirements.in
	{ sed -n '1,3p' requirements.txt; .lock-venv/bin/python -m pip freeze | sort -f; } > requirements.txt.new
	mv requirements.txt.new requirements.txt && rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache
