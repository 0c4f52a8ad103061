#!/usr/bin/env bash
# Measures AWS-LC's first random bytes in a fresh process, built with and without its
# CPU-jitter entropy source (AWS_LC_SYS_NO_JITTER_ENTROPY), 30 processes each. Prints the
# median and the maximum of the first call, in microseconds.
set -euo pipefail
cd "$(dirname "$0")/../infra/rng-start"
runs=${RUNS:-30}
measure() {
  local label=$1 dir=$2
  shift 2
  env "$@" cargo build --quiet --release --target-dir "$dir"
  for _ in $(seq "$runs"); do "$dir/release/rng-start"; done |
    python3 -c '
import json, statistics, sys
firsts = sorted(json.loads(l)["first_us"] for l in sys.stdin)
print(f"'"$label"': first call median {statistics.median(firsts):.0f} us, max {firsts[-1]} us over {len(firsts)} processes")
'
}
target=../../target/rng-start
measure "with jitter entropy (default)" "$target/jitter" AWS_LC_SYS_NO_JITTER_ENTROPY=0
measure "AWS_LC_SYS_NO_JITTER_ENTROPY=1" "$target/no-jitter" AWS_LC_SYS_NO_JITTER_ENTROPY=1
