# dripr: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: bench chaos fuzz run test unit integration e2e image image-test lock lint typecheck check bench-consumer bench-send bench-send-rate localstack demo-localstack test-localstack up down clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default: local AWS emulator + SQLite, every service.
run: $(STAMP)
	$(BIN)/dripr demo

## The whole suite: unit, integration and end-to-end (MySQL at 127.0.0.1:3306 when it answers).
test: $(STAMP)
	$(BIN)/pytest -q

## The tiers of `make test`, each runnable alone.
## unit: fakes only (tests/fakes.py), no database, no emulator; seconds.
unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

## integration: the database and a moto server over HTTP, and the hypothesis properties.
integration: $(STAMP)
	$(BIN)/pytest -q tests/integration tests/fuzz

## e2e: every service as its own process, the dashboard in Chromium, the CI-sized chaos run.
e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

## Consumer runtime throughput against a raw receive/delete loop on the same emulator.
bench-consumer: $(STAMP)
	$(BIN)/python -m tests.benchmarks.consumer

## Emails/s through SES on the emulator, and a measured check that a send keeps its rate.
bench-send: $(STAMP)
	$(BIN)/python -m tests.benchmarks.send

# The account's sending rate across two sender replicas and three sends: stays under the cap.
bench-send-rate: $(STAMP)
	$(BIN)/python -m tests.benchmarks.send_rate $(ARGS)

## N campaigns end to end on moto and LocalStack vs a raw SNS/SQS loop and 5 s DB polling
## (ARGS="--sizes 1000,10000" adds the memory check; --emulators moto for moto alone).
bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks.pipeline $(ARGS)

## The concurrent-campaigns run under faults (ARGS="--on-breaker stop", --campaigns N, --help).
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos $(ARGS)

## Property-based fuzzing with 20x the examples `make test` runs (about 16 minutes on 2 cores).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/fuzz
	DRIPR_CONTRACT_EXAMPLES=50 $(BIN)/pytest -q -s tests/integration/api/test_contract_fuzz.py

## LocalStack (SNS, SQS, SES) on this host without Docker, in the foreground (needs Python 3.13).
localstack:
	infra/localstack/run-on-host.sh

## The main job against LocalStack on this host instead of the embedded moto server.
demo-localstack: $(STAMP)
	rm -f .dripr/localstack-demo.db
	DRIPR_ENV=local DATABASE_URL=$${DATABASE_URL:-sqlite+aiosqlite:///.dripr/localstack-demo.db} \
	  infra/localstack/with-localstack.sh $(BIN)/dripr demo --external

## The end-to-end suite and the operations doc's AWS CLI commands against LocalStack on this host.
test-localstack: $(STAMP)
	infra/localstack/with-localstack.sh $(BIN)/pytest -q tests/e2e tests/integration/test_operations_doc.py

## The image (dripr:local): with a Docker engine if one answers, else buildah on a Debian base
## of our own (infra/image/build.sh; minutes).
image:
	infra/image/build.sh

## Build the image, then run the pipeline from it: migrate, provision, every service as a
## container against the local MariaDB and a moto server, one campaign to its email, SIGTERM.
image-test: $(STAMP)
	infra/image/build.sh
	$(BIN)/python -m tests.image $(ARGS)

## infra/requirements.lock, pinned and hashed, from pyproject.toml's dependencies.
lock:
	python3.11 -m venv .dripr/pip-tools && .dripr/pip-tools/bin/pip install --quiet pip-tools
	grep -v '^ *#\|^ *--hash' infra/requirements.lock | sed 's/ \\$$//' > .dripr/pins.txt
	.dripr/pip-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links -c .dripr/pins.txt -o .dripr/lock.txt pyproject.toml
	{ sed -n '1,3p' infra/requirements.lock; echo; grep -v '^#' .dripr/lock.txt | sed '/./,$$!d' \
	  | sed 's#-c .dripr/pins.txt#-c infra/requirements.lock#'; } \
	  > infra/requirements.lock.new && mv infra/requirements.lock.new infra/requirements.lock

## Every service in containers on LocalStack and MySQL 8 (needs a Docker engine).
up:
	docker compose -f docker-compose.localstack.yml up --build -d

down:
	docker compose -f docker-compose.localstack.yml down -v

clean:
	rm -rf $(VENV) .dripr .pytest_cache .mypy_cache .ruff_cache
