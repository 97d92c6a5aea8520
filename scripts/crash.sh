#!/usr/bin/env bash
# Crash safety: SIGKILL each store's writer at random points, rerun it, and compare what is
# on disk with an uninterrupted run (sha256 of every file). On the tiny GPT-2 fixture and its
# SAE so each store gets many kills in minutes. Writes docs/crash-safety.md's "Last run".
#   - index build: killed, rerun with the same arguments (resumes from its checkpoint);
#   - train: killed, rerun with --resume (or afresh when killed before the first checkpoint);
#   - the activation cache: a discover batch killed while writing entries, rerun on the same
#     cache: its output must equal an uncached run's;
#   - label writes: four writers of disjoint features at once, killed at random; the registry
#     must parse and hold every write whose process exited 0.
#
#   scripts/crash.sh [--kills N] [--doc FILE|-]
set -euo pipefail
cd "$(dirname "$0")/.."
kills=20 doc=docs/crash-safety.md
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills="$2"; shift 2 ;;
    --doc) doc="$2"; shift 2 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release -q -p saex
saex="$PWD/target/release/saex"
model=fixtures/parity/tiny/gpt2
sae=fixtures/models/tiny-gpt2-l1
corpus="${SAEX_CORPUS:-$HOME/.cache/saex/corpus/corpus.jsonl}"
[ -f "$corpus" ] || corpus=fuzz/seeds/corpus.jsonl
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
export SAEX_LABELS_DIR="$w/no-labels"
hash_dir() { (cd "$1" && find . -type f ! -name '*.lock' | sort | xargs sha256sum | sha256sum | cut -c1-16); }
# rand_ms MAX: a random delay in ms below MAX.
rand_ms() { python3 -c "import random; print(random.randint(20, max(21, int($1))))"; }
ms_of() { local s; s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000000 )); }
results="$w/results.tsv"
: > "$results"
# kill_after MS CMD...: run CMD, SIGKILL it after MS ms; prints "killed" or "finished".
kill_after() {
  local ms="$1"; shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$(python3 -c "print($ms / 1000)")"
  if kill -9 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; echo killed; else wait "$pid" 2>/dev/null || true; echo finished; fi
}

echo "index build: reference, then $kills kills" >&2
ix_args=(index build --model "$model" --sae "$sae" --corpus "$corpus" --max-tokens 300000 --checkpoint-secs 1 --no-logits)
ref_ms=$(ms_of "$saex" "${ix_args[@]}" --out "$w/ix-ref")
ref=$(hash_dir "$w/ix-ref")
same=0 killed=0 ck=0
for i in $(seq "$kills"); do
  rm -rf "$w/ix"
  r=$(kill_after "$(rand_ms "$ref_ms")" "$saex" "${ix_args[@]}" --out "$w/ix")
  [ "$r" = killed ] && killed=$((killed + 1))
  [ -f "$w/ix/checkpoint/progress.json" ] && ck=$((ck + 1))
  "$saex" "${ix_args[@]}" --out "$w/ix" >/dev/null 2>&1
  [ "$(hash_dir "$w/ix")" = "$ref" ] && same=$((same + 1))
done
printf 'index build\t%s\t%s\t%s\t%s\t%s\n' "$kills" "$killed" "$ck" "$same" "every file byte-identical to the uninterrupted build" >> "$results"

echo "train: reference, then $kills kills" >&2
tr_args=(train --model "$model" --hook blocks.1.hook_resid_pre --corpus "$corpus" --d-sae 128 --k 8 --tokens 204800 --batch 1024 --buffer 4096 --warmup-steps 5 --dead-tokens 20000 --heldout-every 0)
ref_ms=$(ms_of "$saex" "${tr_args[@]}" --out "$w/tr-ref")
ref_w=$(sha256sum "$w/tr-ref/sae_weights.safetensors" | cut -c1-16)
ok=0 killed=0 ck=0 same=0
for i in $(seq "$kills"); do
  rm -rf "$w/tr"
  r=$(kill_after "$(rand_ms "$ref_ms")" "$saex" "${tr_args[@]}" --out "$w/tr")
  [ "$r" = killed ] && killed=$((killed + 1))
  if [ -f "$w/tr/checkpoint/state.json" ]; then
    ck=$((ck + 1))
    "$saex" "${tr_args[@]}" --out "$w/tr" --resume >/dev/null 2>&1 || true
  elif [ "$r" = killed ]; then
    rm -rf "$w/tr" # killed before the first checkpoint: nothing to keep
    "$saex" "${tr_args[@]}" --out "$w/tr" >/dev/null 2>&1 || true
  fi
  if [ -f "$w/tr/sae_weights.safetensors" ] && "$saex" sae-info "$w/tr" >/dev/null 2>&1 \
     && python3 -c "import json,sys; t=json.load(open('$w/tr/training.json')); sys.exit(0 if t.get('steps', t.get('step')) == 200 else 1)"; then
    ok=$((ok + 1))
  fi
  [ -f "$w/tr/sae_weights.safetensors" ] && [ "$(sha256sum "$w/tr/sae_weights.safetensors" | cut -c1-16)" = "$ref_w" ] && same=$((same + 1))
done
printf 'train\t%s\t%s\t%s\t%s\t%s\n' "$kills" "$killed" "$ck" "$ok" "the resumed run finishes all 200 steps and loads; weights identical to the uninterrupted run's in $same of $kills" >> "$results"

echo "activation cache: reference, then $kills kills" >&2
python3 - "$corpus" > "$w/prompts.jsonl" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    t = json.loads(line).get("text", "")[:300]
    if t:
        print(json.dumps({"text": t, "return_top_x": 5}))
        n += 1
    if n == 200:
        break
PY
dc_args=(discover --model "$model" --sae "$sae" --prompts-file "$w/prompts.jsonl" --json)
"$saex" "${dc_args[@]}" --no-cache > "$w/dc-ref.jsonl" 2>/dev/null
ref=$(sha256sum < "$w/dc-ref.jsonl" | cut -c1-16)
ref_ms=$(ms_of "$saex" "${dc_args[@]}" --cache-dir "$w/cache-timing")
same=0 killed=0
for i in $(seq "$kills"); do
  r=$(kill_after "$(rand_ms "$ref_ms")" "$saex" "${dc_args[@]}" --cache-dir "$w/cache")
  [ "$r" = killed ] && killed=$((killed + 1))
  "$saex" "${dc_args[@]}" --cache-dir "$w/cache" > "$w/dc.jsonl" 2>/dev/null || true
  [ "$(sha256sum < "$w/dc.jsonl" | cut -c1-16)" = "$ref" ] && same=$((same + 1))
  [ $((i % 5)) -eq 0 ] && rm -rf "$w/cache" # start cold again now and then
done
printf 'activation cache\t%s\t%s\t-\t%s\t%s\n' "$kills" "$killed" "$same" "the rerun's output (cache hits and misses) identical to an uncached run's" >> "$results"

echo "label writes: $kills rounds of 4 concurrent writers, one killed" >&2
reg="$w/labels"
ok=0 killed=0
for i in $(seq "$kills"); do
  rm -rf "$reg" "$w/done"; mkdir -p "$w/done"
  pids=()
  for wr in 0 1 2 3; do
    ( for round in 1 2 3; do for f in $(seq $((wr * 32)) $((wr * 32 + 31))); do
        "$saex" label set --registry "$reg" --sae "$sae" "$f" --name "w${wr}_${f}_$round" >/dev/null 2>&1 && echo "$f w${wr}_${f}_$round" >> "$w/done/$wr"
      done; done ) &
    pids+=($!)
  done
  sleep "$(python3 -c "import random; print(random.uniform(0.3, 3.0))")"
  victim=${pids[$((RANDOM % 4))]}
  pkill -9 -P "$victim" saex 2>/dev/null && killed=$((killed + 1))
  kill -9 "$victim" 2>/dev/null || true
  wait 2>/dev/null || true
  "$saex" label list --registry "$reg" --sae "$sae" --json > "$w/list.json" 2>/dev/null || true
  if python3 - "$w/list.json" "$w/done" <<'PY'
import json, os, sys
try:
    labels = json.load(open(sys.argv[1]))["labels"]
except Exception as e:
    print("registry unreadable:", e, file=sys.stderr); sys.exit(1)
want = {}
for f in os.listdir(sys.argv[2]):
    for line in open(os.path.join(sys.argv[2], f)):
        fid, name = line.split()
        want[fid] = name  # a later round overwrites
for fid, name in want.items():
    got = labels.get(fid, {}).get("name") or ""
    # The killed writer's last write may have landed without being recorded: a later round of
    # the same writer is no loss.
    same_writer = got.rsplit("_", 1)[0] == name.rsplit("_", 1)[0]
    if not (got == name or (same_writer and int(got.rsplit("_", 1)[1]) >= int(name.rsplit("_", 1)[1]))):
        print("lost", fid, name, "registry has", got, file=sys.stderr); sys.exit(1)
PY
  then ok=$((ok + 1)); fi
done
printf 'label writes\t%s\t%s\t-\t%s\t%s\n' "$kills" "$killed" "$ok" "the registry parses and holds every write whose process exited 0" >> "$results"

python3 - "$results" "$doc" "$kills" <<'PY'
import os, subprocess, sys
results, doc, kills = sys.argv[1], sys.argv[2], sys.argv[3]
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
rows = [l.split("\t") for l in open(results).read().splitlines()]
out = [f"## Last run (`scripts/crash.sh --kills {kills}`, commit {rev})", "",
       "| store | runs | killed mid-write | with a checkpoint at the kill | intact after the rerun | checked |", "|---|---:|---:|---:|---:|---|"]
out += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | **{r[4]}** | {r[5]} |" for r in rows]
section = "\n".join(out) + "\n"
if doc == "-":
    print(section); sys.exit()
text = open(doc).read() if os.path.exists(doc) else ""
head = text.split("## Last run")[0]
open(doc + ".tmp", "w").write(head.rstrip() + "\n\n" + section)
os.replace(doc + ".tmp", doc)
print(section)
PY
