# Entry points for a fresh clone (see README): `make demo`, `make test`; `make demo-live` to watch.
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

.PHONY: demo demo-live test venv clean-data

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

## demo: a short simulation (3 markets, 2 simulated minutes) ending in a report with plots and
## baselines (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL); SIM_ARGS adds options
demo: $(STAMP)
	$(BIN)/python manage.py simulate --markets 3 --duration 2m $(SIM_ARGS)

## demo-live: the platform, traders and the AMM running until Ctrl-C, its status lines on the console
demo-live: $(STAMP)
	$(BIN)/python manage.py demo_live

## test: the import contracts (.importlinter), then the whole suite against real PostgreSQL and Redis
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	bash scripts/ensure-browser.sh
	bash scripts/ensure-netns.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)


clean-data:
	rm -rf .data
