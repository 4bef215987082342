# authmail-relay developer commands. `make dev` and `make test` work on a fresh clone.
PYTHON ?= python3
# The oldest supported Python: a pyenv build if there is one, else python3.10 on PATH.
PY310 ?= $(shell for p in $$HOME/.pyenv/versions/3.10*/bin/python3.10 $$(command -v python3.10); do \
	"$$p" -c 'import sys' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_DIR ?= $(CURDIR)/.pgtest
# pytest-xdist workers for `make test` (PYTEST_WORKERS=0: one process). The suite mostly
# waits on sockets, timers and child processes. `--dist load` hands out single tests: the
# grouping modes (loadfile, loadscope, loadgroup) key tests by node id, and the
# schemathesis tests share one id per test function, so all but one of them would
# silently not run.
PYTEST_WORKERS ?= 3
PG_PORT := $(shell $(PYTHON) -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

.PHONY: dev test lint typecheck unit test-py310 install clean bench inspector

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[http,postgres,mcp,dev]"
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/authmail-relay dev

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The whole suite: lint, types, a throwaway PostgreSQL cluster for the contract tests,
# every pytest layer, and the library-mode tests on Python 3.10 with only the base install.
test: $(STAMP)
	$(MAKE) lint typecheck inspector
	scripts/pg-cluster.sh start $(PG_DIR) $(PG_PORT)
	TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$(PG_PORT)/postgres $(BIN)/pytest -n $(PYTEST_WORKERS) --dist load; \
		status=$$?; scripts/pg-cluster.sh stop $(PG_DIR); exit $$status
	$(MAKE) test-py310

# The MCP Inspector CLI (an independent MCP client for the tests), pinned by
# tests/inspector/package-lock.json. Without npm its test skips and says why.
INSPECTOR := tests/inspector/node_modules/.bin/mcp-inspector-cli
inspector: $(INSPECTOR)
$(INSPECTOR): tests/inspector/package-lock.json
	@if command -v npm >/dev/null; then \
		cd tests/inspector && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.bin/mcp-inspector-cli; \
	else echo "npm not found: the MCP Inspector test will skip"; fi

# Library mode on the oldest supported Python, in a venv with only the base install
# (plus the test runner and the in-process SMTP server the tests talk to).
test-py310:
	@test -n "$(PY310)" || { echo "python3.10 not found (pyenv install 3.10)"; exit 1; }
	test -x .venv310/bin/python || $(PY310) -m venv .venv310
	.venv310/bin/python -m pip install --quiet --upgrade pip
	rm -rf build  # setuptools keeps old copies there: a moved module would ship twice
	.venv310/bin/python -m pip uninstall --quiet --yes authmail-relay 2>/dev/null || true
	.venv310/bin/python -m pip install --quiet --force-reinstall --no-deps .
	.venv310/bin/python -m pip install --quiet pytest pytest-asyncio trustme aiosmtpd
	.venv310/bin/python -m pytest -p no:cacheprovider -m library tests

# The benchmark suite (benchmarks/README.md), not part of `make test`: the DKIM and
# worst-case validation micro-benchmarks, then six scenarios,
# about ten minutes; `make bench QUICK=1` for a short run, BENCH_ARGS for more options
# (e.g. BENCH_ARGS="-s e2e --profile"). authmail-relay 0.5.0, the baseline of one
# scenario, is installed into its own venv first.
BENCH_050 := benchmarks/.venv-050
bench: $(STAMP)
	test -f $(BENCH_050)/.installed || { $(PYTHON) -m venv $(BENCH_050) && \
		$(BENCH_050)/bin/python -m pip install --quiet "authmail-relay[http]==0.5.0" && \
		touch $(BENCH_050)/.installed; } || echo "0.5.0 not installed: its scenario will fail"
	$(BIN)/python benchmarks/dkim_sign.py --seconds $(if $(QUICK),0.5,2)
	$(BIN)/python benchmarks/validation_worst.py --repeat $(if $(QUICK),5,20)
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv310 .pgtest tests/inspector/node_modules build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
