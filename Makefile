# Quick start: `make run` (the bot, or the offline sandbox without BOT_TOKEN) and `make test`.
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean dist

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools reports every editable install in a box of stars ("BuildBackendWarning:
	@# Editable installation... be careful with folders..."): information, not a problem.
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/errandbot

test: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/pytest

# dist/errandbot-VERSION.tar.gz (with deploy/ and docs/, what docs/deploy.md installs from) and
# the wheel. Built in an isolated environment by PyPA's `build`, as pip would.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/pip install --quiet 'build>=1.2'
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info
