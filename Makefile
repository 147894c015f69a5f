# Quick start: `make run` (the bot, or the offline sandbox without BOT_TOKEN) and `make test`
# (lint, types and the whole suite, as CI runs it); `make test-fast` while editing. Each creates
# .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest workers (pytest-xdist) for the end-to-end tests and `make test-fast`: those tests wait on
# real processes, servers and timers rather than on the CPU, so more workers than cores pays off.
# Every test has its own ports (chosen at run time) and folders; a session fixture (the private
# PostgreSQL server, the Docker image where Docker runs) is made once per worker. `JOBS=0` runs
# them in one process. (No xdist_group: pytest 9.2 drops pytest-xdist's loadgroup grouping,
# pytest-xdist issue 1386.)
JOBS ?= 4
PYTEST_PARALLEL := -n $(JOBS)

.PHONY: run test test-fast lint typecheck clean dist i18n

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools reports every editable install in a box of stars ("BuildBackendWarning:
	@# Editable installation... be careful with folders..."): information, not a problem.
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -e '.[test,dev,postgres]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/errandbot

# ruff's linter, and its formatter as a check: the code keeps the style (and the line length)
# that [tool.ruff] in pyproject.toml states. `$(BIN)/ruff format bot tests bench` applies it.
lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

# bot/downloads and bot/reminders strict, the rest at mypy's default level ([tool.mypy] in
# pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

# Two passes: the tests that are not end-to-end in one process, as before (some time the code
# under test, a pace or a limit, and must not share the two cores with four bots), then the
# end-to-end tests (marker e2e) in JOBS workers.
test: lint typecheck
	$(BIN)/pytest -m "not e2e"
	$(BIN)/pytest $(PYTEST_PARALLEL) -m e2e

# The edit-test loop: lint, types and every test but the end-to-end ones (marker e2e: the real
# errandbot process, docker, nginx, CLI subprocesses; tests/conftest.py marks them), in JOBS
# workers, in under a minute. A test that times the code under test is less reliable here than
# in `make test`, which is the reference.
test-fast: lint typecheck
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not e2e"

# dist/errandbot-VERSION.tar.gz (with deploy/ and docs/, what docs/deploy.md installs from) and
# the wheel, with the language catalogs compiled. Built in an isolated environment by PyPA's
# `build`, as pip would.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/pybabel compile -D errand -d bot/locales
	$(BIN)/pip install --quiet 'build>=1.2'
	$(BIN)/python -m build --outdir dist .

# Reply languages (bot/locales/<code>/LC_MESSAGES/errand.po): extract every marked string into
# bot/locales/errand.pot, merge it into each catalog (new strings appear untranslated, changed
# ones as fuzzy: translate them, then remove the fuzzy flag), and compile the .mo files. The bot
# also compiles a .po in memory at start-up when its .mo is missing or older, so .mo files are
# never committed. A new language: `$(BIN)/pybabel init -D errand -i bot/locales/errand.pot
# -d bot/locales -l CODE`, translate, run this target. tests/i18n checks the catalogs.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --add-location=file --sort-by-file \
		--project=Errand --copyright-holder="Errand authors" -o bot/locales/errand.pot bot
	$(BIN)/pybabel update -D errand -i bot/locales/errand.pot -d bot/locales
	$(BIN)/pybabel compile --statistics -D errand -d bot/locales

clean:
	rm -rf $(VENV) build dist *.egg-info
