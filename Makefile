# The two commands a newcomer needs: `make dev` and `make test`. See README.md.
.PHONY: dev test lint fmt venv build package bench-cold-start bench-compare deploy clean-data

PORT ?= 3000

## Build and start the whole platform locally (embedded backend, demo data).
dev:
	cargo build -p haven-local
	PORT=$(PORT) ./target/debug/haven-local

## Every test, on both backends (starts and stops moto's server itself).
test:
	scripts/test.sh

## Formatting, clippy and the template lints, without the tests.
lint: venv
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	.venv/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 .venv/bin/sam validate --lint

STAGE ?= dev

## Release build of every function and `sam build` for a stage (dev: x86_64, prod: arm64).
package:
	scripts/package.sh $(STAGE)

## Size, init and invocation time of every release function (after `make package`).
bench-cold-start: package
	.venv/bin/python scripts/cold_start.py --json target/cold-start.json

PEERS ?= ../shared/peers
COMPARE ?=

## Haven (release build) side by side with the classic Django/PostGIS/Celery peer on the
## KMHFL list: sets the peer up (Debian packages, PyPI), then prints the ratios table.
## Not part of `make test`; COMPARE=--quick for a short run. docs/benchmarks.md.
bench-compare:
	$(PEERS)/django/setup.sh
	cargo build --release -p haven-local
	python3 $(PEERS)/compare.py $(COMPARE) | tee target/bench-compare.txt

## Deploy what `make package` built (docs/deploy.md).
deploy:
	SAM_CLI_TELEMETRY=0 .venv/bin/sam deploy --config-env $(STAGE)

fmt:
	cargo fmt --all

venv:
	scripts/venv.sh

build:
	cargo build --workspace

## Forget local data (the SQLite file and the local key file) for a fresh start.
clean-data:
	rm -rf .haven
