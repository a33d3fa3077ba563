# The two commands: `make run` (the main job) and `make test` (everything CI checks).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SOLC    := tools/evm/node_modules/.bin/solcjs
CHECKER := tools/checker/node_modules/.installed

.PHONY: run test lint typecheck pytest deep bench clean solc checker

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first and alone, so nothing pulls a newer (multi-gigabyte) build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q 'torch==2.13.0'
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/aci-ref simulate

test: $(STAMP) lint typecheck pytest

# solc-js (the compiler ships inside the npm package) for the Solidity twins; skipped without npm,
# and the EVM tests then skip too.
$(SOLC): tools/evm/package.json tools/evm/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tools/evm --no-audit --no-fund --silent && touch $(SOLC); \
	else echo "npm not found: the EVM comparison tests will be skipped"; fi

solc: $(SOLC)

# The vector checker in JavaScript (Node's crypto + cborg, docs/vectors.md §8); its test skips
# without Node.
$(CHECKER): tools/checker/package.json tools/checker/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tools/checker --no-audit --no-fund --silent && touch $(CHECKER); \
	else echo "npm not found: the vector checker test will be skipped"; fi

checker: $(CHECKER)

lint: $(STAMP)
	$(BIN)/ruff check aci_ref proofs tests benchmarks
	$(BIN)/ruff format --check aci_ref proofs tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict aci_ref proofs

pytest: $(STAMP) solc checker
	$(BIN)/pytest -n 2 tests

deep: $(STAMP)
	ACI_HYPOTHESIS_PROFILE=deep $(BIN)/pytest tests

bench: $(STAMP)
	$(BIN)/python benchmarks/lifecycle.py
	$(BIN)/python benchmarks/consensus.py
	$(BIN)/python benchmarks/aivm.py --save
	$(BIN)/python benchmarks/vectors.py --save

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis tools/evm/node_modules \
		tools/checker/node_modules
