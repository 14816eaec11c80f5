# casework: `make run` sets up and starts everything; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 5000
FLASK := $(BIN)/flask --app casework
PYTEST_ARGS ?=

.PHONY: run setup syscheck syscheck-test syscheck-bench test lint typecheck check bench drills letter-samples screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages (one list, in casework/syscheck.py): installed with apt as root or with sudo -n.
syscheck:
	@$(PYTHON) casework/syscheck.py run

syscheck-test:
	@$(PYTHON) casework/syscheck.py test

syscheck-bench:
	@$(PYTHON) casework/syscheck.py bench

# honcho gives each process its own PORT (worker +100, beat +200): the links in e-mails get the web's address here.
run: syscheck $(STAMP)
	@mkdir -p var/outbox
	@$(FLASK) db upgrade
	@$(FLASK) catalog check
	@$(FLASK) staff ensure
	@echo "casework: http://127.0.0.1:$(PORT)  (e-mails go to var/outbox/; Ctrl-C stops everything)"
	@PORT=$(PORT) CASEWORK_BASE_URL="$${CASEWORK_BASE_URL:-http://127.0.0.1:$(PORT)}" \
		$(BIN)/honcho start -f Procfile -p $(PORT)

test: syscheck-test $(STAMP) check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check casework worker tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

bench: syscheck-bench $(STAMP)
	$(BIN)/python -m bench

# Failure drills on PostgreSQL + Redis (nothing lost, nothing twice); CASEWORK_DRILLS_SCALE=small for a quick run.
drills: syscheck-test $(STAMP)
	$(BIN)/python -m bench.drills $(DRILLS)

# The letter table of tests/letters/test_letter_requests.py as PDFs and PNGs, to read.
letter-samples: syscheck-test $(STAMP)
	$(BIN)/python -m tests.letters.samples var/letter-samples

# Every page of the consumer journeys at 320, 375 and 1280 px, as the browser tests saw them, in var/screenshots/.
screenshots: syscheck-test $(STAMP)
	rm -rf var/screenshots var/pytest-screenshots
	$(BIN)/python -m pytest tests/cases/test_journeys_browser.py -q -p no:randomly --basetemp=var/pytest-screenshots
	mkdir -p var/screenshots && cp var/pytest-screenshots/var0/screenshots/*.png var/screenshots/
	@echo "casework: $$(ls var/screenshots | wc -l) screenshots in var/screenshots/"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
