# The two commands of the README:
#   make serve   set up (first run only) and start acs-triage locally on http://127.0.0.1:7071/api
#   make test    set up (first run only) and run every check: ruff, mypy, pytest (incl. Azurite, Bicep scan)
# Everything is installed inside the repository: .venv (the app and dev tools), .venv-scan
# (checkov, which pins dependencies of its own) and node_modules (Azurite).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: serve tools test soak lint bench clean chromium

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -r requirements.txt
	touch $@

# The operator tools (python -m handlers deadletter): requirements-tools.txt, never deployed.
$(VENV)/.tools: $(VENV)/.runtime requirements-tools.txt
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-tools.txt
	touch $@

$(VENV)/.dev: $(VENV)/.tools requirements-dev.txt
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.venv-scan/.installed: infra/requirements-scan.txt
	test -x .venv-scan/bin/python || $(PYTHON) -m venv .venv-scan
	.venv-scan/bin/python -m pip install $(PIP_FLAGS) -r infra/requirements-scan.txt
	touch $@

serve: $(VENV)/.runtime
	$(PY) -m handlers serve $(ARGS)

tools: $(VENV)/.tools

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The status page's tests drive Debian's headless chromium; installed here when missing (as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make test needs chromium (Debian: sudo apt-get install chromium)" >&2; exit 1; \
	  fi; }

test: $(VENV)/.dev node_modules/.installed .venv-scan/.installed chromium lint
	$(PY) -m pytest $(ARGS)

# 100,000 events through the local host (about 15 s); CI runs it after `make test`.
soak: $(VENV)/.dev
	$(PY) -m pytest -m soak $(ARGS)

bench: $(VENV)/.dev
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .venv-scan node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis
