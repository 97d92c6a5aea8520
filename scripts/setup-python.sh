#!/usr/bin/env bash
# The light Python venv the tests call (tests/python/requirements.txt: duckdb, numpy,
# pytest, neuronpedia-inference-client; no torch) at .venv-tests. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-tests
if [ ! -x "$venv/bin/python" ] || ! cmp -s tests/python/requirements.txt "$venv/requirements.txt"; then
  echo "setting up $venv (tests/python/requirements.txt)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  cp tests/python/requirements.txt "$venv/requirements.txt"
fi
echo "python tests ready: $("$venv/bin/python" --version)" >&2
