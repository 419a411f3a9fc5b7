# Chorus developer commands. `make run` and `make test` set up everything they need.
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSERVICES := $(PY) config/devservices.py

.PHONY: run test stop migrate shell lint format services browser seed bench-tenants bench-senders bench-campaigns ci help

help:
	@echo "make run           set up and start the whole platform (Ctrl-C stops it)"
	@echo "make test          set up and run the test suite"
	@echo "make stop          stop the project-local PostgreSQL and Redis"
	@echo "make migrate       migrate public, the tenant template and every tenant"
	@echo "make shell         Django shell"
	@echo "make lint          ruff check + format check"
	@echo "make bench-tenants tenant creation benchmark (var/bench/tenants.json)"
	@echo "make bench-senders sending engine benchmark (var/bench/senders.json)"
	@echo "make bench-campaigns contact import benchmark (var/bench/campaigns.json)"
	@echo "make browser       find a Chromium, or install one (CHROMIUM_PATH overrides)"

$(STAMP): requirements/base.txt requirements/dev.txt
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	@touch $(STAMP)

services: $(STAMP)
	@$(DEVSERVICES) up

# The sender workers and the browser tests drive Chromium: use the one configured or found
# (CHROMIUM_PATH, Playwright's own, chromium on PATH), else install one (apt as root, else
# `playwright install chromium`). Does nothing when one is there.
browser: $(STAMP)
	@$(PY) config/browser.py ensure

migrate: services
	$(PY) manage.py migrate_all -v 0

seed: migrate
	$(PY) manage.py seed_demo

# Everything in one shell so that Ctrl-C (or any failure) stops the processes and the local
# services this run started itself; services that were already running are left alone.
run: $(STAMP) browser
	@mkdir -p var/run; \
	$(DEVSERVICES) up --record var/run/run-services.json || exit 1; \
	trap '$(DEVSERVICES) down --only var/run/run-services.json' EXIT; \
	$(PY) manage.py migrate_all -v 0 && $(PY) manage.py seed_demo && \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile start

stop: $(STAMP)
	@$(DEVSERVICES) down

shell: services
	$(PY) manage.py shell

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Starts the services it needs and stops, at the end, only those it started itself.
test: $(STAMP) browser
	@mkdir -p var/run; \
	$(DEVSERVICES) up --record var/run/test-services.json || exit 1; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; \
	$(DEVSERVICES) down --only var/run/test-services.json; exit $$rc

bench-tenants: migrate
	$(PY) manage.py bench_tenants

bench-senders: migrate browser
	$(PY) manage.py bench_senders

bench-campaigns: migrate
	$(PY) manage.py bench_campaigns
