#!/usr/bin/env bash
# Whole-replay benchmark (not a test): times `lantern replay` on the benchmark capture with
# --threads 1 and --threads 2, next to `tcpdump -r FILE -w /dev/null` and ndpiReader on the same
# file in the same run, and prints wall time, CPU time, peak RSS, packets per second, each run's
# ratio to tcpdump, and the names lantern finds (TLS SNI, QUIC SNI, DNS queries) next to
# Suricata 8.0.6's counts for the reference build of the capture (../shared/bench/README.md).
#
#   benches/replay.sh [CAPTURE] [RUNS]
#
# CAPTURE defaults to /tmp/bench/bench.pcap, built by ../shared/bench/make_bench_pcap.sh when
# missing (about two minutes; Debian's wireshark-common and tcpreplay). RUNS (default 5)
# rounds of tcpdump and lantern in turn; the median of each is shown (ndpiReader runs once).
# The file is read (untimed) before every run so that each finds it in the page cache, even
# where the kernel reclaims cold pages (DAMON) between runs. Needs tcpdump, python3 and GNU
# time; ndpiReader (Debian's libndpi-bin) if present. lantern runs with --no-store --quiet
# (the packet path), and as users run it: into a fresh SQLite store, and with --events to a
# file, in lantern's format and in OCSF (--events-format ocsf); those rows also show their ratio
# to --no-store with the same --threads ("x same -t").
# The spread column lists every run's wall time. ClickHouse is benches/clickhouse.rs.
# With BASELINE=PATH (another lantern binary, e.g. an earlier commit's), its --no-store and
# --events rows run in the same rounds, so a change is measured against it in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-/tmp/bench/bench.pcap}
runs=${2:-5}
if [ ! -e "$capture" ]; then
  mkdir -p "$(dirname "$capture")"
  (cd ../shared/bench && bash make_bench_pcap.sh ndpi-pcaps "$capture" 1536)
fi
for tool in tcpdump capinfos python3; do
  command -v $tool > /dev/null || { echo "benches/replay.sh needs $tool (Debian: tcpdump, wireshark-common, python3)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "benches/replay.sh needs GNU time (Debian: time)" >&2; exit 1; }
cargo build --release --locked -q
lantern=$PWD/target/release/lantern
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat "$capture" > /dev/null
packets=$(capinfos -c -M "$capture" 2>/dev/null | awk '/Number of packets/ {print $NF}')

# One run of a command, appended to $work/NAME.runs as "wall cpu rss_kib".
run_once() {
  local name=$1; shift
  cat "$capture" > /dev/null
  /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" > /dev/null 2> "$work/err" || {
    echo "$name failed: $(tail -3 "$work/err")" >&2; exit 1; }
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$work/t" >> "$work/$name.runs"
}

# RUNS rounds of tcpdump and lantern in turn, so that a slow spell of the machine falls on
# all of them; the median run of each by wall time is kept.
# The store rows start from a fresh SQLite file each time, as a user's first replay does.
names="tcpdump lantern-t1 lantern-t2 lantern-t1-store lantern-t2-store lantern-t1-events lantern-t1-ocsf-events"
baseline=${BASELINE:-}
[ -z "$baseline" ] || names="$names baseline-t1 baseline-t2 baseline-t1-events"
for i in $(seq "$runs"); do
  run_once tcpdump tcpdump -nr "$capture" -w /dev/null
  run_once lantern-t1 "$lantern" replay --no-store --quiet --threads 1 "$capture"
  run_once lantern-t2 "$lantern" replay --no-store --quiet --threads 2 "$capture"
  rm -f "$work"/store.db*
  run_once lantern-t1-store "$lantern" replay --store "$work/store.db" --quiet --threads 1 "$capture"
  rm -f "$work"/store.db*
  run_once lantern-t2-store "$lantern" replay --store "$work/store.db" --quiet --threads 2 "$capture"
  run_once lantern-t1-events "$lantern" replay --no-store --quiet --threads 1 --events "$work/events.jsonl" "$capture"
  run_once lantern-t1-ocsf-events "$lantern" replay --no-store --quiet --threads 1 --events-format ocsf --events "$work/events.jsonl" "$capture"
  if [ -n "$baseline" ]; then
    run_once baseline-t1 "$baseline" replay --no-store --quiet --threads 1 "$capture"
    run_once baseline-t2 "$baseline" replay --no-store --quiet --threads 2 "$capture"
    run_once baseline-t1-events "$baseline" replay --no-store --quiet --threads 1 --events "$work/events.jsonl" "$capture"
  fi
done
rm -f "$work"/store.db* "$work/events.jsonl"
for name in $names; do
  sort -n "$work/$name.runs" | awk -v n="$runs" 'NR == int((n + 1) / 2)' > "$work/$name"
done
if command -v ndpiReader > /dev/null; then
  run_once ndpiReader ndpiReader -q -i "$capture" -C "$work/flows.csv"
  cp "$work/ndpiReader.runs" "$work/ndpiReader"
fi

echo "capture: $capture, $packets packets, $(($(stat -c %s "$capture") / 1000000)) MB; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "median of $runs rounds (ndpiReader: one run)"
printf '%-22s %8s %8s %10s %12s %10s %10s  %s\n' command "wall s" "CPU s" "peak RSS" "packets/s" "x tcpdump" "x same -t" "spread (wall s)"
base=$(awk '{print $1}' "$work/tcpdump")
for name in $names ndpiReader; do
  [ -e "$work/$name" ] || continue
  read -r wall cpu rss < "$work/$name"
  # The store and events rows against --no-store with the same --threads.
  same=-
  case $name in
    lantern-*-ocsf-events) same=$(awk '{print $1}' "$work/${name%-ocsf-events}") ;;
    lantern-*-store|lantern-*-events|baseline-*-events) same=$(awk '{print $1}' "$work/${name%-*}") ;;
  esac
  spread=$(sort -n "$work/$name.runs" | awk '{printf "%s%s", sep, $1; sep=" "}')
  awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v p="$packets" -v b="$base" -v s="$same" -v sp="$spread" \
    'BEGIN { x = (s == "-") ? "-" : sprintf("%.2f", w / s);
             printf "%-22s %8.2f %8.2f %7d MB %12.0f %10.2f %10s  %s\n", n, w, c, r / 1024, p / w, w / b, x, sp }'
done

# Names: what lantern's events carry, next to Suricata's counts for the reference capture.
"$lantern" replay --no-store --quiet --events - "$capture" | python3 -c '
import json, sys
tls = quic = dns = 0
for line in sys.stdin:
    e = json.loads(line)
    # A flow counts once: in its first record (interim records follow with a part).
    if e["event_type"] == "flow" and not e.get("part"):
        sni = (e.get("tls") or {}).get("sni")
        if sni and e["protocol"] == "quic":
            quic += 1
        elif sni:
            tls += 1
    elif e["event_type"] == "dns":
        dns += 1
print("names found     lantern   Suricata 8.0.6 (reference build)")
print(f"TLS SNI        {tls:8}   26409")
print(f"QUIC SNI       {quic:8}    6578")
print(f"DNS queries    {dns:8}   42964")
'
