# The two commands of the README. Both build the environment on first use and reuse it after
# (.ci/env.sh: a shared base with the locked packages, and this clone's own overlay in .venv-hb/).
.PHONY: run test

ARGS ?=
# Another locked environment, e.g. ENV_ARGS="--lock requirements-py312.lock --python 3.12"
ENV_ARGS ?=

# Generate the 150 Harmony-Bench cases with the embedded Harmony checkpoint, score them with
# every metric that can run here, and write the report (runs/harmony/report/).
run:
	@BIN=$$(.ci/env.sh $(ENV_ARGS)) && $$BIN/harmony-bench run --model harmony --out runs/harmony $(ARGS)

# Install what the tests need (Python environment, espeak-ng, chromium) and run the whole suite.
test:
	@BIN=$$(.ci/env.sh --system $(ENV_ARGS)) && $$BIN/python -m pytest -q $(ARGS)
