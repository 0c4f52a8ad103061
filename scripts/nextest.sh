#!/usr/bin/env bash
# Prints the path of a cargo-nextest binary, installing the pinned version into .tools/ from
# crates.io when neither PATH nor .tools/ has it (a few minutes, once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.9.143
for candidate in "$(command -v cargo-nextest || true)" .tools/bin/cargo-nextest; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] &&
        "$candidate" nextest --version 2>/dev/null | grep -q "^cargo-nextest $version"; then
        echo "$candidate"
        exit 0
    fi
done
echo "==> installing cargo-nextest $version into .tools/" >&2
cargo install --locked --quiet --root .tools "cargo-nextest@$version" >&2
echo .tools/bin/cargo-nextest
