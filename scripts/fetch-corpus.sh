#!/usr/bin/env bash
# Fetch the real text saex builds its corpus from: Debian packages (see ../shared or
# README "Corpus"), each unpacked into its own folder so every file's package is known.
# No root needed: `apt-get download` + `dpkg-deb -x`, nothing is installed.
#
#   scripts/fetch-corpus.sh [DEST]      (default ${SAEX_CORPUS_SRC:-$HOME/.cache/saex/corpus-src})
#
# Writes DEST/<package>/... and DEST/packages.tsv (package, version). Idempotent.
set -euo pipefail
dest="${1:-${SAEX_CORPUS_SRC:-$HOME/.cache/saex/corpus-src}}"
packages=(fortunes fortunes-min fortunes-de fortunes-es fortunes-it fortunes-ru fortunes-zh fortunes-mario
  debian-policy doc-debian base-files python3.11-doc texlive-latex-base-doc libpython3.11-stdlib)
mkdir -p "$dest/.debs"
missing=()
for p in "${packages[@]}"; do [ -d "$dest/$p" ] || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  (cd "$dest/.debs" && apt-get download "${missing[@]}" >/dev/null 2>&1) || {
    echo "apt-get download failed; run 'apt-get update' first (as root) and retry" >&2; exit 1; }
  for p in "${missing[@]}"; do
    deb=$(ls "$dest/.debs/${p}_"*.deb | head -1)
    mkdir -p "$dest/$p.partial"
    dpkg-deb -x "$deb" "$dest/$p.partial"
    mv "$dest/$p.partial" "$dest/$p"
  done
fi
: > "$dest/packages.tsv.partial"
for p in "${packages[@]}"; do
  deb=$(ls "$dest/.debs/${p}_"*.deb | head -1)
  printf '%s\t%s\n' "$p" "$(dpkg-deb -f "$deb" Version)" >> "$dest/packages.tsv.partial"
done
mv "$dest/packages.tsv.partial" "$dest/packages.tsv"
echo "$dest"
