# smcbridge: `make run` starts the whole demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
KHOROS_SIM_PORT ?= 8701

export DEBUG ?= 1
export PYTHONUNBUFFERED := 1

.PHONY: run test lint bench clean

$(VENV)/.run-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Without KHOROS_BASE_URL the demo runs against the local simulator on KHOROS_SIM_PORT.
run: $(VENV)/.run-installed
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@if [ -n "$$KHOROS_BASE_URL" ]; then \
		echo "Using the real Khoros API at $$KHOROS_BASE_URL"; \
		WEB_PORT=$(PORT) $(VENV)/bin/honcho -f Procfile start; \
	else \
		KHOROS_BASE_URL=http://127.0.0.1:$(KHOROS_SIM_PORT)/v2 KHOROS_TOKEN=demo-token KHOROS_COMPANY_ID=389 \
		WEB_PORT=$(PORT) KHOROS_SIM_PORT=$(KHOROS_SIM_PORT) $(VENV)/bin/honcho -f Procfile.demo start; \
	fi

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(VENV)/.dev-installed lint
	$(PY) manage.py makemigrations --check --dry-run > /dev/null
	$(VENV)/bin/pytest

bench: $(VENV)/.dev-installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .hypothesis
