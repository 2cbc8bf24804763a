# smcbridge: `make run` starts the whole demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
KHOROS_SIM_PORT ?= 8701
SAPMC_SIM_PORT ?= 8702
# pytest-xdist workers for `make test` (each has its own test database and task queue): one more
# than the 2-core machine's cores, because many tests wait (on a browser, a server, a timeout).
# Measured on it: 2 workers 137 s, 3 workers 124 s, 4 workers 130 s, 6 workers 156 s.
TEST_WORKERS ?= 3

export DEBUG ?= 1
export PYTHONUNBUFFERED := 1
# Compiled modules and pytest's rewritten test modules are kept (__pycache__, ignored by git):
# without them every test worker and every process a test starts compiles them all again,
# which cost the suite a third of its collection time (10 s -> 4 s per process).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run manage test lint bench clean

# `make run` installs the bridge's requirements and the demo's (the simulators' needs);
# a deployment needs only requirements.txt.
$(VENV)/.run-installed: requirements.txt requirements-demo.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-demo.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The demo's alert emails (printed by the console backend) link to this dashboard.
run: export SITE_URL ?= http://127.0.0.1:$(PORT)

# Each external system without a configured URL is replaced by its simulator; with both
# simulators the demo users are created too.
PROCESSES := web worker
DEMO_SETUP_ARGS :=
ifeq ($(strip $(KHOROS_BASE_URL)),)
PROCESSES += khoros
run manage: export KHOROS_BASE_URL := http://127.0.0.1:$(KHOROS_SIM_PORT)/v2
run manage: export KHOROS_TOKEN := demo-token
run manage: export KHOROS_COMPANY_ID := 389
# The simulator finishes an export in seconds: poll it sooner than the real Khoros.
run manage: export KHOROS_EXPORT_POLL_BASE := 0.5
else
DEMO_SETUP_ARGS += --no-demo-users
endif
ifeq ($(strip $(SAPMC_BASE_URL)),)
PROCESSES += sapmc
run manage: export SAPMC_BASE_URL := http://127.0.0.1:$(SAPMC_SIM_PORT)
run manage: export SAPMC_USER := demo-user
run manage: export SAPMC_PASSWORD := demo-password
# The simulator's tenant files Khoros campaigns under the customer category Z01, in UTC.
run manage: export SAPMC_CAMPAIGN_CATEGORY := Z01
run manage: export SAPMC_TIMEZONE := UTC
# The demo pushes the assigned Plans' settled days into the simulator's success import.
run manage: export SAPMC_SUCCESS_PUSH_ENABLED := true
else
DEMO_SETUP_ARGS += --no-demo-users
endif

# smcbridge/devrun.py runs the Procfile: it first checks every port (one line naming the port
# and the variable to change), prints the banner once the web server answers and stops every
# process on Ctrl-C, waiting for the worker to finish its task (honcho killed it after 5 s).
RUN_PORTS := WEB_PORT=$(PORT) KHOROS_SIM_PORT=$(KHOROS_SIM_PORT) SAPMC_SIM_PORT=$(SAPMC_SIM_PORT)

run: $(VENV)/.run-installed
	@$(RUN_PORTS) $(PY) -m smcbridge.devrun --check-ports $(PROCESSES)
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@$(RUN_PORTS) DEMO_SETUP_ARGS="$(DEMO_SETUP_ARGS)" $(PY) -m smcbridge.devrun -f Procfile \
		--url http://127.0.0.1:$(PORT)/ --banner var/banner.txt $(PROCESSES)

# A manage.py command in make run's environment (the simulators' URLs for the systems it
# simulates), e.g. from a second shell: make manage ARGS=sync_khoros
manage: $(VENV)/.run-installed
	$(PY) manage.py $(ARGS)

# mypy checks the product code (pyproject.toml); its django-stubs plugin loads the settings,
# which need DEBUG=1 or a SECRET_KEY.
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy

# The browser tests need Debian's chromium: installed as root with apt-get, or one line says
# the command to run (nothing is skipped silently).
test: $(VENV)/.dev-installed lint
	@bash .ci/browser-deps
	$(PY) manage.py makemigrations --check --dry-run > /dev/null
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup

$(VENV)/.bench-installed: $(VENV)/.dev-installed requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

# Every benchmark, one table each (README, "Performance"); BENCH_ARGS="--rows 100000" etc.
# With DATABASE_URL (a database whose name contains "bench") and REDIS_URL: PostgreSQL, Redis.
bench: $(VENV)/.bench-installed
	$(PY) -m bench all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache .hypothesis
