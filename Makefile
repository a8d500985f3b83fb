# OPAA: `make run` starts everything for development; `make test` runs the whole suite.
# Both create the virtualenv and install the pinned dependencies first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format clean test-services messages gettext

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# German (and any further language): locale/<lang>/LC_MESSAGES/*.po, compiled to .mo in
# pure Python (polib), so no GNU gettext is needed to run. docs/i18n.md.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

locale/%.mo: locale/%.po $(STAMP)
	$(BIN)/python scripts/compile_messages.py $<

install: $(STAMP) $(CATALOGUES)

# Collects every string marked for translation into the catalogues (new ones untranslated,
# for you to translate), then compiles them. Needs GNU gettext (xgettext, msgmerge).
MESSAGES_IGNORE := $(foreach d,.venv tests bench docs docker sample_corpus scripts *.egg-info node_modules vendor,--ignore=$(d))
messages: install gettext
	for lang in $$(ls locale | grep -v '^\.'); do \
	  env -u DJANGO_SETTINGS_MODULE $(BIN)/python -m django makemessages -l $$lang -d django \
	    -e html,txt,py --no-obsolete --add-location=file $(MESSAGES_IGNORE) && \
	  env -u DJANGO_SETTINGS_MODULE $(BIN)/python -m django makemessages -l $$lang -d djangojs \
	    -e js --no-obsolete --add-location=file $(MESSAGES_IGNORE) || exit 1; \
	done
	$(BIN)/python scripts/compile_messages.py

run: install
	$(BIN)/opaa run

# The IMAP connector's tests start a real Dovecot on loopback: Debian's dovecot-imapd
# (installed here, not started as a service; the tests run their own instance). The
# portal's browser tests need Debian's chromium (Playwright never downloads a browser).
# tests/test_i18n.py and `make messages` run makemessages: GNU gettext (xgettext, msgmerge).
gettext:
	@command -v xgettext >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    gettext >/dev/null; }

test-services: gettext
	@command -v dovecot >/dev/null 2>&1 || test -x /usr/sbin/dovecot || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    dovecot-imapd >/dev/null; }
	@# The portal's browser tests (tests/portal/) drive Debian's Chromium with Playwright.
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    chromium >/dev/null; }

# The suite runs in TEST_PROCESSES pytest processes (pytest-xdist), each with its own data
# directory and so its own embedded Postgres, Redis and Celery worker (.opaa/test-gw0 ...);
# a test file stays in one process, and so do tests/portal and tests/mcp_server, whose
# fixtures live for the package (tests/conftest.py). Lint runs beside it (mypy alone
# takes about a minute without its cache, while the suite waits on its servers much of
# the time): its report comes at the end, and either failing fails `make test`.
TEST_PROCESSES ?= 2
test: install test-services
	@$(MAKE) --no-print-directory lint > $(VENV)/lint.log 2>&1 & lint=$$!; \
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile; status=$$?; \
	wait $$lint; lint_status=$$?; cat $(VENV)/lint.log; \
	if [ $$lint_status != 0 ]; then echo "make lint failed (above)"; exit 1; fi; \
	exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf .opaa/test .opaa/test-gw* .pytest_cache .ruff_cache
