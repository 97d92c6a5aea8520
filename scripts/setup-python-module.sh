#!/usr/bin/env bash
# `import saex` for the tests and the notebooks: a venv at .venv-py with maturin, numpy,
# pytest, pandas and scipy, and the extension (crates/python) built in release mode by
# `maturin develop` into the workspace's target dir (CARGO_TARGET_DIR when set), so it reuses
# the engine's artifacts. Idempotent: the venv is made once; cargo rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-py
# pandas and scipy: so the tests of `.to_pandas()` and of encode's CSR run (not skip) in CI.
reqs="maturin==1.16.0 numpy==2.4.6 pytest==9.2.0 pandas==3.1.1 scipy==1.17.1"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/requirements.txt" 2>/dev/null)" != "$reqs" ]; then
  echo "setting up $venv ($reqs)..." >&2
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # the list is word-split on purpose
  "$venv/bin/pip" install --quiet --disable-pip-version-check $reqs
  echo "$reqs" >"$venv/requirements.txt"
fi
start=$(date +%s)
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --release --quiet --manifest-path crates/python/Cargo.toml >&2
echo "import saex ready in $venv ($(( $(date +%s) - start )) s to build)" >&2
