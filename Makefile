# Two commands: `make serve` (build the index if missing, serve the chat) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint install clean replicas

serve: $(STAMP)
	$(BIN)/hingecoach serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

install: $(STAMP)

# Two replicas behind nginx, with PostgreSQL and Redis, on loopback (docs/scaling.md);
# Ctrl-C stops every process it started.
replicas: $(STAMP)
	$(BIN)/python bench/replicas.py

# torch is pinned to the CPU build; everything else comes from pyproject.toml.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) index
