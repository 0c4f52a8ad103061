#!/usr/bin/env bash
# Builds one function and invokes it the way a tester would: `cargo lambda watch` runs the
# Lambda runtime emulator, `cargo lambda invoke` sends it the function's sample event from
# events/. Checks the answer, then stops the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
function=${1:-health-ready}
export PATH="$PWD/.venv/bin:$PATH"
data_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=target/cargo-lambda-watch.log
mkdir -p target
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --package haven-ops --bin "$function" --features embedded \
  --env-var HAVEN_BACKEND=embedded --env-var "HAVEN_DATA_DIR=$data_dir" > "$log" 2>&1 &
watch_pid=$!
cleanup() { kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; rm -rf "$data_dir"; }
trap cleanup EXIT
out=""
for _ in $(seq 1 120); do
  if out=$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "events/$function.json" "$function" 2>/dev/null); then
    break
  fi
  kill -0 "$watch_pid" 2>/dev/null || { cat "$log" >&2; echo "cargo lambda watch exited" >&2; exit 1; }
  sleep 1
done
echo "$out"
echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["statusCode"] == 200, r
body = json.loads(r["body"])
assert body.get("ready") is True or body.get("status") == "live", body
print("cargo lambda invoke: ok")
'
