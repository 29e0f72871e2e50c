# gridgov — the two commands: `make demo` and `make test`. Each sets up what is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
VENDOR := maps/vendor/node_modules/.installed-stamp

# The lock files pin every dependency with hashes; pyproject.toml keeps the lower bounds.
LOCK_DEV := requirements-dev.txt
LOCK     := requirements.txt
COMPILE   = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes

.PHONY: demo test bench lint db system venv lock upgrade clean

# The local cluster is durable unless told otherwise: only the test suite and the benchmarks
# run it fast (no fsync, no synchronous commit). `gridgov db up` rewrites the setting each
# time, so the next `make demo` or `make db` runs it durable again.
test bench: export PG_DURABILITY = fast

# The dashboards read from a hot standby of the local cluster (`gridgov serve` picks it up);
# with DATABASE_URL set there is no local cluster to copy, so no local replica either.
demo: db  ## set up everything, seed the demo city, start its read replica, serve on 127.0.0.1:8000
	$(BIN)/gridgov seed demo
	[ -n "$${DATABASE_URL:-}" ] || $(BIN)/gridgov db replica up
	$(BIN)/gridgov serve

test: system venv lint  ## set up everything and run ruff, mypy, the layering contracts and the tests
	@./gis/system-packages.sh --browser
	$(BIN)/gridgov db up
	$(BIN)/pytest

bench: db  ## run the benchmark workloads; writes bench/results.json and bench/results.md
	$(BIN)/python -m bench

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

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

# Exactly the locked versions (hash-checked), then gridgov itself without resolving anything.
$(STAMP): pyproject.toml $(LOCK_DEV) | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

lock: venv  ## add what pyproject.toml newly asks for to the lock files, keeping the other pins
	$(COMPILE) pyproject.toml -o $(LOCK)
	echo 'setuptools>=77' | $(COMPILE) pyproject.toml - --extra dev -o $(LOCK_DEV)

upgrade: venv  ## refresh the lock files to the newest releases allowed, reinstall, run the tests
	$(COMPILE) --upgrade pyproject.toml -o $(LOCK)
	echo 'setuptools>=77' | $(COMPILE) --upgrade pyproject.toml - --extra dev -o $(LOCK_DEV)
	rm -f $(STAMP)
	$(MAKE) test

clean:  ## stop the local cluster (and replica) and delete them, the virtualenv and caches
	-[ -x $(BIN)/gridgov ] && [ -z "$${DATABASE_URL:-}" ] && $(BIN)/gridgov db destroy --yes
	rm -rf $(VENV) maps/vendor/node_modules .pgdata .pgdata-replica .pytest_cache .mypy_cache .ruff_cache *.egg-info bench/results.json bench/results.md
