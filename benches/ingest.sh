#!/usr/bin/env bash
# Log-ingest benchmark (not a test): times `lantern ingest` of the EVE Suricata 8.0.6 wrote from
# the benchmark capture (../shared/nsm-logs/bench/bench.eve.json.zst, 563,334 events, 355 MB),
# next to what a user would write instead, `jq -c 'select(.event_type=="tls") | .tls.sni'`, on
# the same file in the same run, and prints wall time, CPU time, peak RSS, lines per second per
# core (lines / CPU seconds) and each run's ratio to jq.
#
#   benches/ingest.sh [EVE] [RUNS]
#
# EVE defaults to /tmp/bench/bench.eve.json, decompressed from the shared copy when missing
# (Debian's zstd). RUNS (default 3) rounds of jq and lantern in turn; the median of each is
# shown. lantern runs with --no-store --quiet (reading and joining), into a fresh SQLite store
# (as a user's first ingest), and with --events to a file. Needs jq, python3 and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
eve=${1:-/tmp/bench/bench.eve.json}
runs=${2:-3}
if [ ! -e "$eve" ]; then
  mkdir -p "$(dirname "$eve")"
  zstd -q -d ../shared/nsm-logs/bench/bench.eve.json.zst -o "$eve"
fi
for tool in jq python3; do
  command -v $tool > /dev/null || { echo "benches/ingest.sh needs $tool (Debian: jq, python3)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "benches/ingest.sh needs GNU time (Debian: time)" >&2; exit 1; }
cargo build --release --locked -q
lantern=$PWD/target/release/lantern
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lines=$(wc -l < "$eve")

# One run of a command, appended to $work/NAME.runs as "wall cpu rss_kib".
run_once() {
  local name=$1; shift
  cat "$eve" > /dev/null
  /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" > /dev/null 2> "$work/err" || {
    echo "$name failed: $(tail -3 "$work/err")" >&2; exit 1; }
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$work/t" >> "$work/$name.runs"
}

names="jq lantern lantern-store lantern-events"
for i in $(seq "$runs"); do
  run_once jq jq -c 'select(.event_type=="tls") | .tls.sni' "$eve"
  run_once lantern "$lantern" ingest --no-store --quiet "$eve"
  rm -f "$work"/store.db*
  run_once lantern-store "$lantern" ingest --store "$work/store.db" --quiet "$eve"
  run_once lantern-events "$lantern" ingest --no-store --quiet --events "$work/events.jsonl" "$eve"
done
for name in $names; do
  sort -n "$work/$name.runs" | awk -v n="$runs" 'NR == int((n + 1) / 2)' > "$work/$name"
done

echo "EVE: $eve, $lines lines, $(($(stat -c %s "$eve") / 1000000)) MB; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "median of $runs rounds"
printf '%-16s %8s %8s %10s %16s %8s  %s\n' command "wall s" "CPU s" "peak RSS" "lines/s/core" "x jq" "spread (wall s)"
base=$(awk '{print $1}' "$work/jq")
for name in $names; do
  read -r wall cpu rss < "$work/$name"
  spread=$(sort -n "$work/$name.runs" | awk '{printf "%s%s", sep, $1; sep=" "}')
  awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v l="$lines" -v b="$base" -v sp="$spread" \
    'BEGIN { printf "%-16s %8.2f %8.2f %7d MB %16.0f %8.2f  %s\n", n, w, c, r / 1024, l / c, w / b, sp }'
done
"$lantern" ingest --no-store "$eve" 2>&1 | grep -E '^lantern:|names:|counters:' | sed 's/^/  /'
