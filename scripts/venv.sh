#!/usr/bin/env bash
# Installs the pinned Python tools (moto's server, cfn-lint, cargo-lambda) into .venv, once
# per change of infra/requirements.txt. Safe to run on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=infra/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "==> installing Python tools into .venv ($requirements)"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r "$requirements"
echo "$want" > "$stamp"
