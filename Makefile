# Two commands matter: `make run` (set up everything, then chat with the bot) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PO := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: setup run test lint typecheck unit catalogs extract bench demo validate clean \
	nlu-setup nlu-train nlu-serve nlu-eval nlu-token

setup: $(VENV)/.installed $(MO) .env

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Keys for encrypting data at rest, made once per machine and never committed.
.env: | $(VENV)/.installed
	umask 077 && $(PY) -m bot keys > .env
	$(MAKE) --no-print-directory nlu-token

# The token between the bot and its Rasa server (added to an older .env too).
nlu-token: | $(VENV)/.installed .env
	@grep -q '^NLU_TOKEN=' .env || \
	  echo "NLU_TOKEN=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')" >> .env

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

# The Rasa NLU runtime is set up too; the bot trains and starts it in the background and uses
# the keyword fallback until it is ready.
run: setup nlu-setup
	$(PY) -m bot run

validate: $(VENV)/.installed
	$(PY) -m bot validate
	$(PY) -m bot nlu-validate

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bot tests
	$(VENV)/bin/ruff format --check bot tests

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# The Rasa NLU tests and the evaluation need the Rasa runtime and a trained model: a failure to
# set them up fails the run (it never skips them).
test: $(VENV)/.installed $(MO) lint typecheck validate nlu-train
	$(PY) -m bot nlu-eval
	$(VENV)/bin/pytest -q

bench: $(VENV)/.installed $(MO)
	$(PY) -m tests.bench $(ARGS)

# The real bot against the fake Telegram server, the person played from this terminal.
demo: $(VENV)/.installed $(MO)
	$(PY) -m tests.fakes.demo $(ARGS)

# --- Rasa NLU (issue 6): its own Python 3.10 venv, never the bot's --------------------------
RASA_VENV := .venv-rasa
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)

nlu-setup: $(RASA_VENV)/.installed

# The newest pyenv 3.10, a fresh venv, exactly the lock (rasa 3.6.21 needs Python < 3.11).
$(RASA_VENV)/.installed: nlu/requirements.lock
	@py=$$(ls -d $(PYENV_ROOT)/versions/3.10.* 2>/dev/null | sort -V | tail -n 1); \
	if [ -z "$$py" ]; then echo "nlu-setup: no Python 3.10 in $(PYENV_ROOT)/versions" \
	  "(pyenv install 3.10)" >&2; exit 1; fi; \
	echo "nlu-setup: $$py -> $(RASA_VENV)"; \
	rm -rf $(RASA_VENV) && $$py/bin/python -m venv $(RASA_VENV)
	@# (pip's stderr is kept aside: this machine's pip config adds a warning per package)
	$(RASA_VENV)/bin/python -m pip install --quiet --no-deps -r nlu/requirements.lock \
	  2> $(RASA_VENV)/pip-install.log || { cat $(RASA_VENV)/pip-install.log >&2; exit 1; }
	RASA_TELEMETRY_ENABLED=false $(RASA_VENV)/bin/python -c "import rasa, icu; print('rasa', rasa.__version__)"
	touch $@

# Trains only when nlu/config.yml, domain.yml, components/ or data/ changed (content hash).
nlu-train: $(VENV)/.installed $(RASA_VENV)/.installed
	$(PY) -m bot nlu-train

nlu-serve: nlu-train nlu-token
	$(PY) -m bot nlu-serve

nlu-eval: nlu-train
	$(PY) -m bot nlu-eval

clean:
	rm -rf $(VENV) $(RASA_VENV) nlu/models .pytest_cache .mypy_cache .ruff_cache
