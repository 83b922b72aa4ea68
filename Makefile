# The two commands: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test test-only setup migrate demo lint format worker clean bench loadtest

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

# Serve on http://$(HOST):$(PORT) with a background worker and the scheduler;
# Ctrl-C stops all three.
run: demo
	@echo "Cadence Ops on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	@bash -c 'trap "kill 0" EXIT; \
		$(PY) manage.py cadence_worker & \
		$(PY) manage.py cadence_scheduler & \
		$(PY) manage.py runserver --noreload $(HOST):$(PORT)'

# The production-style stack on this machine: static files collected for whitenoise,
# gunicorn with cadence_site/gunicorn.conf.py, one worker and the scheduler; Ctrl-C
# stops all three. Settings come from the environment (README, "Deploying to production").
serve: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo "Cadence Ops (gunicorn) on http://$(HOST):$(PORT)/  (health: http://$(HOST):$(PORT)/health/)"
	@bash -c 'trap "kill 0" EXIT; \
		$(PY) manage.py cadence_worker & \
		$(PY) manage.py cadence_scheduler & \
		HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn -c cadence_site/gunicorn.conf.py'

test: setup test-only

test-only:
	$(PY) -m pytest

# The worker for the configured queue (db_worker, or rqworker with TASKS_BACKEND=rq).
worker: migrate
	$(PY) manage.py cadence_worker

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Datasets of 100,000 and 1,000,000 trackers on SQLite and PostgreSQL (built once, cached
# by schema), every measurement, BENCHMARKS.md. BENCH_SIZES / BENCH_DATABASES narrow it.
bench: setup
	$(PY) -m tests.bench.run

# 50 users for 60 s against gunicorn + a worker on a million trackers (PostgreSQL database
# load1m, built on first use); LOADTEST_ARGS="--users 20 --seconds 30" to change. Not CI.
loadtest: setup
	$(PY) -m tests.load.run_load $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* .pytest_cache
