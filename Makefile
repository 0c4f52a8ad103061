# The two commands a newcomer needs: `make dev` and `make test`. See README.md.
.PHONY: dev test lint fmt venv build clean-data

PORT ?= 3000

## Build and start the whole platform locally (embedded backend, demo data).
dev:
	cargo build -p haven-local
	PORT=$(PORT) ./target/debug/haven-local

## Every test, on both backends (starts and stops moto's server itself).
test:
	scripts/test.sh

## Formatting, clippy and the template lint, without the tests.
lint: venv
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	.venv/bin/cfn-lint template.yaml

fmt:
	cargo fmt --all

venv:
	scripts/venv.sh

build:
	cargo build --workspace

## Forget local data (the SQLite file and the local key file) for a fresh start.
clean-data:
	rm -rf .haven
