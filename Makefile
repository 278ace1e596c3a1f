# Two commands do all set-up:  make run   |   make test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test install install-dev migrate translations i18n bench loadtest clean

$(STAMP): requirements.txt requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip 'setuptools<82' wheel
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	@touch $@

$(DEVSTAMP): $(STAMP) requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	@touch $@

install: $(STAMP) translations

install-dev: $(DEVSTAMP) translations

translations: $(STAMP)
	@$(VENV)/bin/pybabel compile -d service/translations >/dev/null

run: install
	@bash scripts/run.sh

test: install-dev
	@bash scripts/test.sh $(ARGS)

migrate: install
	$(VENV)/bin/flask --app service db upgrade

bench: install-dev
	$(PY) bench/run_all.py

# Load campaign (docs/RELIABILITY.md §5): needs PostgreSQL and redis-server on this machine.
loadtest: install-dev
	$(PY) bench/load/run.py $(ARGS)

clean:
	rm -rf $(VENV) instance/test-*

# After adding or changing UI text: extract, merge into the catalogs, then translate the new entries.
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o /tmp/huijia-messages.pot .
	$(VENV)/bin/pybabel update -i /tmp/huijia-messages.pot -d service/translations --no-fuzzy-matching
