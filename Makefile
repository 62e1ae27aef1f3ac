# The two commands a newcomer needs: `make test` and `make demo`. Everything runs from the local venv.
PY ?= .venv/bin/python
PIP ?= .venv/bin/pip

.PHONY: install test test-unit test-integration test-e2e bench proto lint compose-check demo clean

install: .venv/.installed

.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest -q

test-unit: install
	$(PY) -m pytest -q -m unit

test-integration: install
	$(PY) -m pytest -q -m integration

test-e2e: install
	$(PY) -m pytest -q -m e2e

bench: install
	$(PY) -m bench.run

lint: install
	$(PY) -m ruff check libs services tests bench

compose-check:
	$(PY) -m arb.tools.compose_check docker-compose.yml

clean:
	rm -rf .venv .pytest_cache build *.egg-info
