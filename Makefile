# lcedu — two commands: `make lab` opens the course, `make test` runs every check.
# Both create .venv on first use (reused while pyproject.toml and the constraints are unchanged).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.lcedu-installed
EXTRAS := lab,test,triton
LAB_ARGS ?=
PYTEST_ARGS ?=
ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.PHONY: setup lab test lint exercises grade doctor bench lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (lcedu)" >/dev/null
	$(BIN)/lcedu doctor || true
	@touch $(STAMP)

lab: setup
	$(BIN)/jupyter lab notebooks/00_welcome.ipynb $(ROOT_FLAG) $(LAB_ARGS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/lcedu exercises check
	$(BIN)/pytest $(PYTEST_ARGS)

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
