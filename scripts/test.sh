#!/usr/bin/env bash
# Every test: formatting, lints, the whole workspace's tests on both backends (the AWS half
# against moto's server), the template lint, and one function invoked through cargo lambda.
set -euo pipefail
cd "$(dirname "$0")/.."
# Incremental caches double the target directory (tens of GB across ~100 binaries) and buy
# nothing on a clean clone; CI disks are shared and small.
export CARGO_INCREMENTAL=0
mkdir -p target
# The Python tools and Chromium install while cargo works: neither needs the other.
(scripts/venv.sh && scripts/browser.sh) > target/setup.log 2>&1 &
setup_pid=$!

echo "==> cargo fmt --check (at ${SECONDS}s)"
cargo fmt --all -- --check
echo "==> cargo clippy (at ${SECONDS}s)"
cargo clippy --workspace --all-targets -- -D warnings
# The functions as Lambda builds them: without the embedded backend.
cargo clippy -p haven-platform -p haven-ops -p haven-patients -p haven-labs --bins -- -D warnings
echo "==> building the tests (at ${SECONDS}s)"
nextest=$(scripts/nextest.sh)
"$nextest" nextest run --workspace --no-run

echo "==> Python tools and Chromium (at ${SECONDS}s)"
if ! wait "$setup_pid"; then
    cat target/setup.log >&2
    echo "installing the Python tools or Chromium failed (target/setup.log)" >&2
    exit 1
fi
cat target/setup.log

read -r moto_pid moto_url < <(scripts/moto.sh)
stop_moto() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
trap stop_moto EXIT
echo "==> moto's server at $moto_url (at ${SECONDS}s)"
export HAVEN_TEST_AWS_ENDPOINT="$moto_url"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

echo "==> cfn-lint template.yaml, sam validate --lint (at ${SECONDS}s)"
.venv/bin/cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .venv/bin/sam validate --lint
echo "==> cargo nextest (embedded and AWS backends) (at ${SECONDS}s)"
status=0
"$nextest" nextest run --workspace --no-fail-fast 2>&1 | tee target/cargo-test.log || status=$?
echo "==> cargo lambda invoke (at ${SECONDS}s)"
scripts/lambda-invoke.sh health-ready
# One closing line for the whole workspace, from nextest's summary.
summary=$(grep -E '^ *Summary \[' target/cargo-test.log | tail -1)
passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary")
echo "${passed:-0} passed, ${failed:-0} failed"
[ "$status" -eq 0 ] && [ -n "$passed" ]
