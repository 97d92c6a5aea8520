#!/usr/bin/env bash
# Installs what the page tests drive: Debian's chromium (headless) and playwright-core (npm,
# pinned by tests/browser/package-lock.json). Idempotent; run once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package, ~300 MB)..." >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null || { echo "node not found: install Node.js 18+ (Debian: nodejs npm)" >&2; exit 1; }
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "installing playwright-core (npm)..." >&2
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi
echo "browser tests ready: $(chromium --version 2>/dev/null | head -1), node $(node --version)" >&2
