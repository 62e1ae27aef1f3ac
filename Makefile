# The two commands a newcomer needs: `make test` and `make demo`. Everything runs from the local venv.
PY ?= .venv/bin/python
PIP ?= .venv/bin/pip

.PHONY: install test test-unit test-integration test-e2e bench proto lint compose-check demo clean

install: .venv/.installed

.venv/.installed: pyproject.toml setup.py libs/arb/venues/mexc/_wire.pyx libs/arb/venues/common/_book.pyx libs/arb/venues/common/_book.pxd \
		libs/arb/venues/gateio/_wire.pyx
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest -q --durations=10

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

# MEXC protobuf classes: proto/mexc/*.proto -> proto/gen/mexc/*_pb2.py (committed; importable as proto.gen.mexc).
# protoc writes `from mexc import X_pb2`; the sed makes those imports package-absolute.
proto: install
	$(PY) -m grpc_tools.protoc -I proto --python_out=proto/gen --pyi_out=proto/gen proto/mexc/*.proto
	sed -i -e 's/^from mexc import /from proto.gen.mexc import /' proto/gen/mexc/*_pb2.py proto/gen/mexc/*_pb2.pyi
	touch proto/gen/mexc/__init__.py

compose-check:
	$(PY) -m arb.tools.compose_check docker-compose.yml

clean:
	rm -rf .venv .pytest_cache build *.egg-info

demo: install
	bash deploy/demo.sh
