#!/usr/bin/env bash
# Live-capture benchmark (not a test): replays the benchmark capture into a veth pair with
# `tcpreplay --topspeed` while `lantern capture` listens on the far end, and reports packets per
# second, CPU time and the drop ratio; then the same for `tcpdump -w /dev/null`, and for the two
# packet readers of examples/capture_readers.rs (lantern's libpcap reader alone, and a
# hand-written AF_PACKET TPACKET_V3 ring), which is how the daemon's reader was chosen.
#
#   sudo benches/live.sh [CAPTURE] [THREADS...]
#
# CAPTURE defaults to /tmp/bench/bench.pcap, built by ../shared/bench/make_bench_pcap.sh when
# missing (about two minutes). THREADS defaults to "1 2". Needs root, iproute2, ethtool,
# tcpreplay and tcpdump; builds lantern in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-/tmp/bench/bench.pcap}
shift || true
threads=${*:-1 2}
tag=lb
C=lt-$tag-c S=lt-$tag-s
work=$(mktemp -d)
trap 'bash tests/live/net.sh down $tag "$work/net"; rm -rf "$work"' EXIT

if [ ! -e "$capture" ]; then
  mkdir -p "$(dirname "$capture")"
  (cd ../shared/bench && bash make_bench_pcap.sh ndpi-pcaps "$capture" 1536)
fi
cargo build --release --locked -q
cargo build --release --locked -q --example capture_readers
lantern=$PWD/target/release/lantern
bash tests/live/net.sh link $tag 5 "$work/net"

# One replay into the link; prints "SENT SECONDS".
replay() {
  local out
  out=$(ip netns exec $C tcpreplay --topspeed -i ${tag}c "$capture" 2>&1)
  sed -n 's/^Actual: \([0-9]*\) packets .* sent in \([0-9.]*\) seconds.*/\1 \2/p' <<<"$out"
}

# CPU seconds (user + system) process $1 has used so far.
cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

printf '%-24s %9s %7s %9s %9s %7s %8s %7s\n' capturer sent secs "sent pps" captured drops "drop %" "cpu s"
row() {
  awk -v n="$1" -v s="$2" -v t="$3" -v c="$4" -v d="$5" -v u="$6" 'BEGIN {
    printf "%-24s %9d %7.2f %9.0f %9d %7d %7.3f%% %7.2f\n", n, s, t, s / t, c, d, 100 * d / (c + d), u }'
}

for t in $threads; do
  ip netns exec $S "$lantern" capture -i ${tag}s --no-store --threads "$t" --buffer-mib 256 \
    --status-interval 0 --max-flows 2000000 2>"$work/lantern.log" &
  pid=$!
  until grep -q "capturing on" "$work/lantern.log"; do sleep 0.1; done
  read -r sent secs < <(replay)
  sleep 3
  cpu=$(cpu_of $pid)
  kill -TERM $pid
  wait $pid
  line=$(grep "lantern: stopped:" "$work/lantern.log")
  captured=$(sed -n 's/^lantern: stopped: \([0-9]*\) packets.*/\1/p' <<<"$line")
  kernel=$(sed -n 's/.*drops: kernel \([0-9]*\) .*/\1/p' <<<"$line")
  queue=$(sed -n 's/.* queue \([0-9]*\),.*/\1/p' <<<"$line")
  row "lantern --threads $t" "$sent" "$secs" "$((captured - queue))" "$((kernel + queue))" "$cpu"
done

ip netns exec $S tcpdump -i ${tag}s -B 262144 -s 4096 -w /dev/null 2>"$work/tcpdump.log" &
pid=$!
until grep -q "listening on" "$work/tcpdump.log"; do sleep 0.1; done
read -r sent secs < <(replay)
sleep 2
cpu=$(cpu_of "$(pgrep -n -x tcpdump)")
kill -INT $pid
wait $pid || true
captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/tcpdump.log")
kernel=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/tcpdump.log")
row "tcpdump -w /dev/null" "$sent" "$secs" "$captured" "$kernel" "$cpu"

for reader in pcap ring fanout2; do
  ip netns exec $S target/release/examples/capture_readers $reader ${tag}s >"$work/$reader.out" &
  pid=$!
  sleep 0.5
  read -r sent secs < <(replay)
  wait $pid
  read -r _ _ captured _ _ _ drops _ cpu _ <"$work/$reader.out"
  row "reader alone: $reader" "$sent" "$secs" "$captured" "$drops" "$cpu"
done
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
