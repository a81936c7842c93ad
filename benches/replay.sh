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
# time; ndpiReader (Debian's libndpi-bin) if present. lantern runs with --no-store --quiet:
# the packet path, not the store (benches/clickhouse.rs).
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
for i in $(seq "$runs"); do
  run_once tcpdump tcpdump -nr "$capture" -w /dev/null
  run_once lantern-t1 "$lantern" replay --no-store --quiet --threads 1 "$capture"
  run_once lantern-t2 "$lantern" replay --no-store --quiet --threads 2 "$capture"
done
for name in tcpdump lantern-t1 lantern-t2; do
  sort -n "$work/$name.runs" | awk -v n="$runs" 'NR == int((n + 1) / 2)' > "$work/$name"
done
if command -v ndpiReader > /dev/null; then
  run_once ndpiReader ndpiReader -q -i "$capture" -C "$work/flows.csv"
  cp "$work/ndpiReader.runs" "$work/ndpiReader"
fi

echo "capture: $capture, $packets packets, $(($(stat -c %s "$capture") / 1000000)) MB; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "median of $runs rounds (ndpiReader: one run)"
printf '%-22s %8s %8s %10s %12s %10s\n' command "wall s" "CPU s" "peak RSS" "packets/s" "x tcpdump"
base=$(awk '{print $1}' "$work/tcpdump")
for name in tcpdump lantern-t1 lantern-t2 ndpiReader; do
  [ -e "$work/$name" ] || continue
  read -r wall cpu rss < "$work/$name"
  awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v p="$packets" -v b="$base" \
    'BEGIN { printf "%-22s %8.2f %8.2f %7d MB %12.0f %10.2f\n", n, w, c, r / 1024, p / w, w / b }'
done

# Names: what lantern's events carry, next to Suricata's counts for the reference capture.
"$lantern" replay --no-store --quiet --events - "$capture" | python3 -c '
import json, sys
tls = quic = dns = 0
for line in sys.stdin:
    e = json.loads(line)
    if e["event_type"] == "flow":
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
