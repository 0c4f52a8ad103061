#!/usr/bin/env bash
# Release build of every Lambda function, then `sam validate --lint` and `sam build` for a
# stage (dev: x86_64, prod: arm64; see samconfig.toml). Output: .aws-sam/build, ready for
# `sam deploy --config-env <stage>` (docs/deploy.md).
#
# One `cargo lambda build` of all function crates first: dependencies and the 67 LTO links run
# in parallel, and `sam build`'s per-function `cargo lambda build --bin …` calls then find every
# binary fresh and only copy it.
set -euo pipefail
cd "$(dirname "$0")/.."
stage=${1:-dev}
case "$stage" in
  dev) arch_flag=(--x86-64) ;;
  prod) arch_flag=(--arm64) ;;
  *) echo "unknown stage $stage (dev | prod)" >&2; exit 2 ;;
esac
scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
# cargo's own compiler and linker: no zig needed for the machine's architecture.
export CARGO_LAMBDA_COMPILER=${CARGO_LAMBDA_COMPILER:-cargo}
export SAM_CLI_TELEMETRY=0
export CARGO_INCREMENTAL=0
# Lambda binaries at opt-level "s" (Cargo.toml's release profile is 3, for the local gateway):
# ~35% smaller, and on Lambda the functions wait on AWS, not on the CPU. docs/benchmarks.md.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-s}

packages=()
for dir in functions/*/; do
  packages+=(-p "haven-$(basename "$dir")")
done
echo "==> cargo lambda build --release ${arch_flag[*]} (all functions)"
# Default features: no embedded backend, so on Lambda a function can only run on AWS. The
# same features as `sam build`'s own calls, so those find every binary fresh.
time cargo lambda build --release "${arch_flag[@]}" "${packages[@]}"

echo "==> sam validate --lint"
sam validate --lint --config-env "$stage"
echo "==> sam build --config-env $stage"
time sam build --config-env "$stage"

largest=$(find .aws-sam/build -name bootstrap -printf '%s %h\n' | sort -n | tail -1)
count=$(find .aws-sam/build -name bootstrap | wc -l)
echo "==> $count functions in .aws-sam/build; largest: ${largest:-none}"
