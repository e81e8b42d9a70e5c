# Two commands do all the set-up on a fresh machine (python3, pip and make are enough):
#   make run    install uv if missing, sync the locked environment, migrate, serve on :8000
#   make test   the whole test suite
#   make demo   the whole product against a local simulator: no accounts, nothing real
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif

.PHONY: run test demo check format bench bench-agent uv sync

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet --disable-pip-version-check uv

sync: uv
	@$(UV) sync --frozen --quiet

run: sync
	$(UV) run --frozen kriptik db upgrade
	$(UV) run --frozen kriptik serve

demo: sync
	$(UV) run --frozen kriptik demo

# Two pytest processes side by side (scripts/run-tests.py); KRIPTIK_TEST_SHARDS=1 for one.
test: sync
	$(UV) run --frozen python scripts/run-tests.py $(ARGS)

check: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen pyright

format: sync
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

# Side-by-side ratios (not timed tests); about 8 minutes. It includes the agent's LLM
# dollars per deploy turn against today's figures (`make bench-agent` runs that alone).
bench: sync
	$(UV) run --frozen python -m benchmarks

bench-agent: sync
	$(UV) run --frozen python -m benchmarks.agent_cost
