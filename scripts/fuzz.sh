#!/usr/bin/env bash
# Fuzz every parser saex has (crates/fuzz), each for N executions (default 10^6), and write
# the figures (executions, time, rate, accepted inputs, distinct errors, findings) to
# docs/fuzzing.md. Findings' inputs land in target/fuzz-findings/TARGET/; copy each into
# fuzz/regressions/TARGET/ with its fix, and `cargo test -p saex-fuzz` replays them forever.
#
#   scripts/fuzz.sh [--execs N] [--targets "a b c"] [--doc FILE|-]
set -euo pipefail
cd "$(dirname "$0")/.."
execs=1000000
targets=""
doc=docs/fuzzing.md
while [ $# -gt 0 ]; do
  case "$1" in
    --execs) execs="$2"; shift 2 ;;
    --targets) targets="$2"; shift 2 ;;
    --doc) doc="$2"; shift 2 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release -q -p saex-fuzz
fz=target/release/saex-fuzz
[ -n "$targets" ] || targets="$($fz list | tr '\n' ' ')"
out=target/fuzz-runs
mkdir -p "$out"
for t in $targets; do
  echo "fuzzing $t ($execs executions)..." >&2
  "$fz" run "$t" --execs "$execs" --crashes target/fuzz-findings > "$out/$t.json"
done
python3 - "$out" "$execs" "$doc" $targets <<'PY'
import json, os, subprocess, sys
out, execs, doc, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
about = dict(line.split("\t", 1) for line in subprocess.run(["target/release/saex-fuzz", "list", "--about"], capture_output=True, text=True).stdout.splitlines() if "\t" in line)
rows = []
total_find = 0
for t in targets:
    r = json.load(open(f"{out}/{t}.json"))
    total_find += len(r["findings"])
    rows.append(f"| `{t}` | {about.get(t, '')} | {r['execs']:,} | {r['secs']:.0f} | {r['execs'] / max(r['secs'], 1e-9):,.0f} | {r['accepted']:,} | {r['distinct_errors']:,} | {len(r['findings'])} |")
    for f in r["findings"]:
        rows.append(f"|  | ↳ finding: {f['message'].splitlines()[0][:160]} (input `{f.get('input')}`) | | | | | | |")
table = "\n".join(rows)
section = f"""## Last run (`scripts/fuzz.sh --execs {execs}`, commit {rev})

| target | what it reads | executions | seconds | per second | accepted | distinct errors | findings |
|---|---|---:|---:|---:|---:|---:|---:|
{table}

{total_find} finding(s) in this run.
"""
if doc == "-":
    print(section)
    sys.exit()
text = open(doc).read() if os.path.exists(doc) else ""
marker = "## Last run"
head = text.split(marker)[0] if marker in text else text
open(doc + ".tmp", "w").write(head.rstrip() + "\n\n" + section)
os.replace(doc + ".tmp", doc)
PY
