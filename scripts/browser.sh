#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/python/browser.py drives it with Playwright,
# which never downloads a browser of its own here). Installs it once; a no-op after that.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
echo "==> installing Debian's chromium for the browser tests"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y chromium >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y chromium >/dev/null
fi
command -v chromium >/dev/null
