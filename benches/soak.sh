#!/usr/bin/env bash
# Soak run (not a test): `lantern capture` on a veth pair while tcpreplay sends the benchmark
# capture LOOPS times at top speed; prints the daemon's resident memory every 15 s, its status
# lines, and its final line (packets, drops).
#
#   sudo benches/soak.sh [LOOPS] [CAPTURE]      (defaults: 12, /tmp/bench/bench.pcap)
#
# Needs root, iproute2, ethtool and tcpreplay, and the capture (see benches/live.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
loops=${1:-12}
capture=${2:-/tmp/bench/bench.pcap}
tag=sk
work=$(mktemp -d)
trap 'bash tests/live/net.sh down $tag "$work/net"; rm -rf "$work"' EXIT
cargo build --release --locked -q
bash tests/live/net.sh link $tag 1 "$work/net"
ip netns exec lt-$tag-s ./target/release/lantern capture -i ${tag}s --no-store \
  --status-interval 30 2>"$work/lantern.log" &
pid=$!
until grep -q "capturing on" "$work/lantern.log"; do sleep 0.1; done
ip netns exec lt-$tag-c tcpreplay -q --topspeed --loop "$loops" -i ${tag}c "$capture" \
  >"$work/replay.log" 2>&1 &
replay=$!
start=$SECONDS
while kill -0 $replay 2>/dev/null; do
  sleep 15
  echo "$((SECONDS - start)) s: $(grep VmRSS /proc/$pid/status)"
done
sleep 3
kill -TERM $pid
wait $pid
grep -E "status:|stopped:" "$work/lantern.log"
