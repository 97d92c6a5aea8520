#!/usr/bin/env bash
# The bad-input catalogue, regenerated from what the binary says today: runs
# crates/cli/tests/bad_inputs.rs (one test per case) with SAEX_CATALOGUE_DIR set, each case
# writes its row, and the rows become docs/bad-inputs.md.
#
#   scripts/bad-inputs.sh [--out FILE]     (default docs/bad-inputs.md)
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/bad-inputs.md
[ "${1:-}" = "--out" ] && out="$2"
rows=$(mktemp -d)
trap 'rm -rf "$rows"' EXIT
SAEX_CATALOGUE_DIR="$rows" cargo test --release -q -p saex --test bad_inputs >&2
{
  echo "# Bad inputs"
  echo
  echo "What saex answers when a file, an argument or a request is wrong: one line naming the"
  echo "problem and exit code 2 on the command line; a 4xx status with a JSON \`error\` over HTTP."
  echo "Never a panic, never a 500. Each row is one test of \`crates/cli/tests/bad_inputs.rs\`"
  echo "(the test asserts the exit code or status, that the message is one line, and that it"
  echo "names what is wrong); this file is written by \`scripts/bad-inputs.sh\` from the messages"
  echo "the binary printed on $(date -u +%Y-%m-%d). More bad-input tests live beside each"
  echo "feature (\`grep -rn fails_with crates/*/tests\`)."
  echo
  echo "## Command line"
  echo
  echo "| case | given | result | message |"
  echo "|---|---|---|---|"
  cat "$rows"/c*.md
  echo
  echo "## HTTP (\`saex serve\`)"
  echo
  echo "| case | request | status | error |"
  echo "|---|---|---|---|"
  cat "$rows"/h*.md
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($(grep -c '^| [ch][0-9]' "$out") cases)" >&2
