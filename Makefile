# Tonight — the commands a newcomer needs. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# make test talks to the machine's real services unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tonight
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) \
	REDIS_URL=$(TEST_REDIS_URL) DEBUG=0 SECRET_KEY=test-only-secret-key \
	SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 OPENBLAS_NUM_THREADS=1

# The suite runs on TEST_WORKERS processes (pytest-xdist), a test file to a worker so that a
# module's world (tests/module_world.py) is built once; each worker has its own PostgreSQL
# database and Redis database (tests/workers.py: TEST_REDIS_URL's and the ones below it).
# The fifteen slowest setups and calls end every run, so that a test that grows shows.
# Pass PYTEST_ARGS to run something else (in one process unless it says -n).
TEST_WORKERS ?= 2
PYTEST_ARGS ?= -n $(TEST_WORKERS) --dist loadfile --durations=15

DEMO_ENV := DEBUG=1 OPENBLAS_NUM_THREADS=1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000

.PHONY: help venv lock demo demo-data serve test lint format messages bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(STAMP)  ## Create or update the virtualenv

# The runtime dependencies at the versions the image installs (requirements.lock), so the
# suite runs on what ships; the dev tools resolve freely.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $@

lock:  ## Pin the runtime dependencies as installed in the virtualenv (after upgrading one and running the suite)
	$(PY) .ci/lock_requirements.py

demo: demo-data serve  ## Seed a demo catalogue and households, train, retrain, and serve on :8000

demo-data: venv  ## Seed, train, simulate traffic and retrain like make demo, without serving
	@mkdir -p var
	$(DEMO_ENV) $(PY) manage.py migrate --noinput -v0
	$(DEMO_ENV) $(PY) manage.py seed_demo --if-empty
	$(DEMO_ENV) $(PY) manage.py train_models
	@# Seeded profiles browse real homepages (once), so the rankers learn from logged pages.
	$(DEMO_ENV) $(PY) manage.py simulate_traffic --if-empty --profiles 200 --sessions 6 --days 5
	$(DEMO_ENV) $(PY) manage.py train_models
	@# Every taste cluster retrains once through the Celery task's code (in this process without
	@# a broker), so admin's Training runs show finished runs with their stages (about a minute).
	@# No --wait: a run its gate refuses is one to look at in admin, not a reason to stop the demo.
	@# A run that failed is: the command exits 1 naming it, and the demo stops here, unserved
	@# (make demo again retrains only the clusters that have not succeeded).
	$(DEMO_ENV) $(PY) manage.py retrain --all --if-empty
	$(DEMO_ENV) $(PY) manage.py update_artwork_policy --full
	$(DEMO_ENV) $(PY) manage.py demo_info --host $(DEMO_HOST) --port $(DEMO_PORT)

serve: venv  ## Serve the current database with gunicorn on DEMO_HOST:DEMO_PORT (127.0.0.1:8000)
	@$(PY) -c 'import socket, sys; taken = not socket.socket().connect_ex(("$(DEMO_HOST)", $(DEMO_PORT))); \
		sys.exit(taken and "Port $(DEMO_PORT) on $(DEMO_HOST) is taken: stop what holds it, or pass another, e.g. make demo DEMO_PORT=8001")'
	$(DEMO_ENV) $(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi --bind $(DEMO_HOST):$(DEMO_PORT) --workers 2 \
		--access-logfile - --log-level warning

test: venv  ## Run the whole suite against PostgreSQL and Redis
	@# The staff console's browser test drives the system's Chromium and its driver.
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "Installing chromium and chromium-driver for the browser test"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium chromium-driver \
			>/dev/null; }
	@$(TEST_ENV) $(PY) .ci/check_services.py
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: venv  ## Ruff lint and format check, import contracts (the engine's, selectors'), migrations check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=1 DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run

format: venv  ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Row copy translations (docs/recommendations.md). Maintainers only: needs GNU gettext
# (apt-get install gettext). The compiled .mo files are committed, so running the
# project never does. A message the code no longer has leaves the catalogues (no "#~"
# entries kept: the .po files hold what is translated for the product, nothing else).
MESSAGE_LANGUAGES = $(shell DEBUG=1 $(PY) -c 'import os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings"); from django.conf import settings; print(" ".join("-l " + c for c, _ in settings.LANGUAGES))' 2>/dev/null)

messages: venv  ## Update locale/*/django.po from the code and compile the .mo files
	DEBUG=1 $(PY) manage.py makemessages $(MESSAGE_LANGUAGES) --no-location --no-wrap --no-obsolete \
		-i tests -i bench -i var -i '.*'
	DEBUG=1 $(PY) manage.py compilemessages -i '.*' -i var

bench: venv  ## Run the benchmarks (each prints its figure beside its baseline)
	@for b in ingest recommend homepage retrain; do echo "== bench/$$b.py"; \
		$(TEST_ENV) $(PY) bench/$$b.py || exit 1; done
	@echo "== bench/artwork.py"; $(TEST_ENV) $(PY) bench/artwork.py --page --reuse

clean:  ## Remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .ruff_cache .import_linter_cache .hypothesis .schemathesis
