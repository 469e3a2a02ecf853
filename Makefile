# The two commands of the README. Both build the environment on first use and reuse it after.
.PHONY: run test

ARGS ?=

# Generate the 150 Harmony-Bench cases with the embedded Harmony checkpoint, score them with
# every metric that can run here, and write the report (runs/harmony/report/).
run:
	@BIN=$$(.ci/env.sh) && $$BIN/harmony-bench run --model harmony --out runs/harmony $(ARGS)

# Install what the tests need (Python environment, espeak-ng, chromium) and run the whole suite.
test:
	@BIN=$$(.ci/env.sh --system) && $$BIN/python -m pytest -q $(ARGS)
