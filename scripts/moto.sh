#!/usr/bin/env bash
# Starts moto's server on a free loopback port, waits until it answers, resets it, and prints
# `PID URL`. The caller stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# The recorder (tests read the `@connections` posts from it) writes under target/.
MOTO_RECORDER_FILEPATH=target/moto_recording .venv/bin/moto_server -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request('$url/moto-api/reset', method='POST'), timeout=1)" 2>/dev/null; then
    echo "$pid $url"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "moto_server exited; see target/moto.log" >&2
    exit 1
  fi
  sleep 0.2
done
kill "$pid" 2>/dev/null || true
echo "moto_server did not answer on $url within 20 s" >&2
exit 1
