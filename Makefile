# The one entry point for developers and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
SCENARIO  ?= tests/scenarios/default.json
# The debug binaries the world runs, and ecs-sta: one package set, so that every target that builds
# them builds the same thing (another set unifies the dependencies' features differently, and cargo
# compiles the AWS SDK crates again).
BINS      := -p drain-ecs -p deregister-lb -p check-drained -p complete-lifecycle -p task-scaler -p sweeper -p ecs-sta
# The release builds of the functions, for the figures (bench, reliability at full size).
FUNCTIONS := -p drain-ecs -p deregister-lb -p check-drained -p complete-lifecycle -p task-scaler -p sweeper

.PHONY: help deps deps-py deps-npm fmt fmt-check lint-py clippy lint-ts test test-rust test-asl test-infra test-world \
        test-e2e reliability test-reliability bench bench-smoke local build synth template

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-12s %s\n", $$1, $$2 }'

deps: deps-py deps-npm ## install the pinned Python and npm tools (idempotent)

deps-py: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

deps-npm: infra/node_modules/.installed
infra/node_modules/.installed: infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	touch $@

fmt: deps ## format the code and apply the linters' fixes, in place (one line per language)
	cargo fmt --all
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .
	cd infra && npm run --silent fmt

fmt-check: ## cargo fmt --check
	cargo fmt --all -- --check

lint-py: deps-py ## ruff: the Python of the world, the tests and the benchmarks is formatted and lint-clean (ruff.toml)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

clippy: ## clippy on every target, warnings are errors
	cargo clippy --workspace --all-targets -- -D warnings

test-rust: ## unit tests (aws-smithy-mocks), the ASL contract and the moto integration tests
	cargo test --workspace

lint-ts: deps-npm ## infra's TypeScript: tsc --noEmit (strict), eslint (typescript-eslint, type-aware), prettier --check
	cd infra && npm run --silent lint

test-asl: deps-npm ## validate the state machine with asl-validator
	cd infra && npx --no-install asl-validator --json-path ../statemachine/drain.asl.json

test-infra: deps-npm deps-py ## CDK assertion tests, cdk-nag and cfn-lint on the synthesized template (no Rust build)
	cd infra && npm test

synth: deps-npm ## cdk synth of the example app, offline, into infra/cdk.out/
	cd infra && npm run synth

template: deps-npm ## the standalone CloudFormation template (no CDK to deploy it) -> infra/dist/ecs-single-task-autoscaling.template.json
	cd infra && npm run --silent template

test-world: deps-py template ## the local AWS world's own behaviour tests (the stack tests deploy the standalone template)
	cargo build --bins $(BINS)
	PYTHONPATH=tests $(PY) -m pytest tests/world -q -n $(E2E_WORKERS) --dist load

# Worlds side by side (test-world, test-e2e). A world mostly waits on its own clocks: on 2 cores, 8
# finish the e2e suite in about 11 minutes where 4 take about 17.
E2E_WORKERS ?= 8

test-e2e: deps-py ## the real drain end to end in the local AWS world, every scenario in tests/scenarios (E2E_WORKERS worlds side by side)
	cargo build --bins $(BINS)
	E2E_NO_BUILD=1 PYTHONPATH=tests $(PY) -m pytest tests/e2e -q -n $(E2E_WORKERS) --dist load

reliability: deps-py ## faults, kills, timeouts, deletions, teardown, a 50-of-60 scale-in and 200 of 240 under AWS's rate limits (release builds: 200 debug sandboxes overwhelm 2 cores); writes RELIABILITY.md and reliability.json
	cargo build --release --bins $(FUNCTIONS)
	WORLD_LAMBDA_BIN_DIR=$(CURDIR)/target/release WORLD_LAMBDA_RUST_LOG=warn PYTHONPATH=tests $(PY) -m world.reliability --no-build

test-reliability: deps-py ## the reliability cases at a small size, the fleet as 20 of 24 (what CI runs); writes target/reliability-small.{md,json}
	PYTHONPATH=tests $(PY) -m world.reliability --small --jobs 6 --out $(CURDIR)/target/reliability-small.md

bench: deps-py ## all benchmarks in the local world; writes bench/RESULTS.md, bench/results.json and the SVG charts it embeds
	cargo build --release --bins $(FUNCTIONS)
	cargo build --bins $(BINS)
	PYTHONPATH=tests:. $(PY) -m bench.run

bench-smoke: deps-py ## the benchmarks at their smallest size (what CI runs); writes target/bench-smoke/
	cargo build --bins $(BINS)
	PYTHONPATH=tests:. $(PY) -m bench.run --smoke --out $(CURDIR)/target/bench-smoke

local: deps-py ## run the real workflow in the local AWS world (SCENARIO=tests/scenarios/<file>.json; KEEP=1 keeps it running)
	PYTHONPATH=tests $(PY) -m world.run --scenario $(SCENARIO) $(if $(filter 1 yes true,$(KEEP)),--keep)

test: deps fmt-check lint-py clippy lint-ts test-rust test-asl test-infra test-world test-e2e test-reliability bench-smoke ## everything CI checks

build: deps-py ## cargo lambda build --release --arm64 (adds the Rust target first)
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu || \
	  { echo "error: could not add the Rust target aarch64-unknown-linux-gnu (offline?). Run 'rustup target add aarch64-unknown-linux-gnu' where rustup can reach static.rust-lang.org, then 'make build' again." >&2; exit 1; }
	cargo lambda build --release --arm64 --output-format zip \
	  -p drain-ecs -p deregister-lb -p check-drained -p complete-lifecycle -p task-scaler -p sweeper
