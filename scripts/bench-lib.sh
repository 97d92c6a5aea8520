# Shared by the bench scripts (sourced): options, tools, and writing a section of
# BENCHMARKS.md, the one place benchmark numbers live.
#
# Options every bench script takes:
#   --out DIR            intermediate results (default target/bench)
#   --benchmarks FILE    the file whose section is rewritten (default BENCHMARKS.md; - prints only)
#   --baseline SAEX      another saex binary measured in the same run (before/after a change)

bench_out=target/bench
bench_file=BENCHMARKS.md
bench_baseline=""
bench_parse() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) bench_out="$2"; shift 2 ;;
      --benchmarks) bench_file="$2"; shift 2 ;;
      --baseline) bench_baseline="$(realpath "$2")"; shift 2 ;;
      *) echo "unknown option $1 (expected --out DIR, --benchmarks FILE|-, --baseline SAEX)" >&2; exit 2 ;;
    esac
  done
  mkdir -p "$bench_out"
  [ -z "$bench_baseline" ] || [ -x "$bench_baseline" ] || { echo "--baseline $bench_baseline is not an executable" >&2; exit 2; }
}

# need TOOL DEBIAN_PACKAGE: install it from Debian when missing (as root), else say how.
bench_need() {
  command -v "$1" >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing $2 (Debian)..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
  command -v "$1" >/dev/null || { echo "error: $1 not found: apt-get install $2" >&2; exit 2; }
}

# The conditions line every section starts with: date, machine, load average before the run.
bench_conditions() {
  local cpu; cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  printf 'Measured %s on %s cores (%s); load average before the run: %s.' \
    "$(date -u +%Y-%m-%d)" "$(nproc)" "$cpu" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_write NAME SECTION_FILE: replace <!-- NAME:begin --> … <!-- NAME:end --> in the
# benchmarks file with SECTION_FILE's text (append the block when absent).
bench_write() {
  local name="$1" section="$2"
  cat "$section"
  [ "$bench_file" = "-" ] && return
  python3 - "$name" "$section" "$bench_file" <<'PY'
import re, sys
name, section, path = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
doc = open(path).read() if __import__("os").path.exists(path) else "# Benchmarks\n"
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
block = f"{begin}\n{section}{end}"
doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S) if begin in doc else doc.rstrip() + "\n\n" + block + "\n"
open(path, "w").write(doc)
PY
  echo "wrote the $name section of $bench_file" >&2
}
