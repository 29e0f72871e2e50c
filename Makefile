# gridgov — the two commands: `make demo` and `make test`. Each sets up what is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
VENDOR := maps/vendor/node_modules/.installed-stamp

.PHONY: demo test bench lint db system venv clean

# The local cluster is durable unless told otherwise: only the test suite and the benchmarks
# run it fast (no fsync, no synchronous commit). `gridgov db up` rewrites the setting each
# time, so the next `make demo` or `make db` runs it durable again.
test bench: export PG_DURABILITY = fast

demo: db  ## set up everything, seed the demo city and serve it on 127.0.0.1:8000
	$(BIN)/gridgov seed demo
	$(BIN)/gridgov serve

test: system venv lint  ## set up everything and run ruff, mypy and the test suite
	@./gis/system-packages.sh --browser
	$(BIN)/gridgov db up
	$(BIN)/pytest

bench: db  ## run the benchmark workloads; writes bench/results.json and bench/results.md
	$(BIN)/python -m bench

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

db: system venv  ## start the project-local PostGIS (unless DATABASE_URL is set) and migrate
	$(BIN)/gridgov db up
	$(BIN)/gridgov migrate

system:
	@./gis/system-packages.sh

venv: $(STAMP) $(VENDOR)

# Leaflet, folium's plugins and their styles from the npm registry, served by the app itself.
$(VENDOR): maps/vendor/package-lock.json | system
	npm ci --prefix maps/vendor --no-audit --no-fund --loglevel=error
	@touch $(VENDOR)

$(STAMP): pyproject.toml | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

clean:  ## stop the local cluster and delete it, the virtualenv and caches
	-[ -x $(BIN)/gridgov ] && [ -z "$${DATABASE_URL:-}" ] && $(BIN)/gridgov db destroy --yes
	rm -rf $(VENV) maps/vendor/node_modules .pgdata .pytest_cache .mypy_cache .ruff_cache *.egg-info bench/results.json bench/results.md
