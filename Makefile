# The two commands: `make demo` runs the main job, `make test` runs the whole suite. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the web UI: its browser libraries from the npm registry (never committed) and its basemap (from ../shared/data
# when present; the built file ships in the package, so the UI works without that folder and offline)
NODE_STAMP := node_modules/.package-lock.json
BASEMAP := src/deconflict/web/static/basemap.json
WEB := $(NODE_STAMP) $(BASEMAP)

.PHONY: demo test lint setup

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the web UI's libraries: apt-get install -y npm"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BASEMAP): src/deconflict/web/basemap.py $(wildcard ../shared/data/geo/countries_110m.geojson) | $(STAMP)
	$(BIN)/python -m deconflict.web.basemap
	touch $@

setup: $(STAMP) $(WEB)

demo: $(STAMP) $(WEB)
	$(BIN)/deconflict demo

test: $(STAMP) $(WEB)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
