# Two entry points for a fresh clone (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The demo and the tests run with DEBUG off, which needs a SECRET_KEY (ammproject/settings.py):
# one is made per `make` run when none is set; every process started below inherits it.
ifeq ($(strip $(SECRET_KEY)),)
SECRET_KEY := $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
endif
export SECRET_KEY

.PHONY: demo test venv clean-data

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

## demo: migrate, seed, and run the platform (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)
demo: $(STAMP)
	$(BIN)/python manage.py demo

## test: the whole suite against real PostgreSQL and Redis
test: $(STAMP)
	bash scripts/ensure-browser.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)


clean-data:
	rm -rf .data
