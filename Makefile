# Two commands matter: `make run` (set up everything, then chat with the bot) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PO := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: setup run test lint typecheck unit catalogs extract bench demo validate clean

setup: $(VENV)/.installed $(MO) .env

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Keys for encrypting data at rest, made once per machine and never committed.
.env: | $(VENV)/.installed
	umask 077 && $(PY) -m bot keys > .env

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(VENV)/bin/pybabel compile --use-fuzzy -d locales -D messages -l $* 2>/dev/null || \
	  $(VENV)/bin/pybabel compile -d locales -D messages -l $*

catalogs: $(MO)

# Re-extract texts from flows/messages and merge them into every catalog (for translators).
extract: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg --no-wrap --omit-header -o locales/messages.pot .
	for po in $(PO); do $(VENV)/bin/pybabel update --no-wrap --ignore-obsolete -D messages \
	  -d locales -i locales/messages.pot -l $$(basename $$(dirname $$(dirname $$po))); done
	$(PY) -m bot.i18n_extract locales/en/LC_MESSAGES/messages.po

run: setup
	$(PY) -m bot run

validate: $(VENV)/.installed
	$(PY) -m bot validate

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bot tests
	$(VENV)/bin/ruff format --check bot tests

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: $(VENV)/.installed $(MO) lint typecheck validate
	$(VENV)/bin/pytest -q

bench: $(VENV)/.installed $(MO)
	$(PY) -m tests.bench $(ARGS)

# The real bot against the fake Telegram server, the person played from this terminal.
demo: $(VENV)/.installed $(MO)
	$(PY) -m tests.fakes.demo $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
