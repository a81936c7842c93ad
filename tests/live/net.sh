#!/usr/bin/env bash
# Network namespaces for lantern's live-capture tests and benchmark.
#
#   net.sh up TAG N DIR    lt-TAG-c (client, 10.6N.0.1) and lt-TAG-s (server) joined by the veth
#                          pair TAGc/TAGs, offloads off. In lt-TAG-s: dnsmasq on 10.6N.0.2 answering
#                          the AI names below with one address each, and the HTTPS test server
#                          (any name, self-signed) on every address. Work files in DIR.
#   net.sh link TAG N DIR  only the two namespaces and the veth pair (MTU 9000, for replays of
#                          captures with large frames), no servers.
#   net.sh down TAG DIR    stops the servers and removes both namespaces.
#
# Needs root, iproute2, ethtool, dnsmasq, python3 and openssl. TAG: at most 8 characters.
set -euo pipefail
cmd=$1 tag=$2
C=lt-$tag-c S=lt-$tag-s
here=$(cd "$(dirname "$0")" && pwd)

down() {
  local dir=$1
  for pid in "$dir"/*.pid; do
    [ -e "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  ip netns del $C 2>/dev/null || true
  ip netns del $S 2>/dev/null || true
  rm -rf /etc/netns/$C
}

link() {
  local n=$1 dir=$2 mtu=${3:-1500}
  local net=10.6$n.0
  down "$dir"
  mkdir -p "$dir" /etc/netns/$C
  ip netns add $C
  ip netns add $S
  ip link add ${tag}c netns $C type veth peer name ${tag}s netns $S
  for ns in $C $S; do ip -n $ns link set lo up; done
  ip -n $C addr add $net.1/24 dev ${tag}c
  ip -n $S addr add $net.2/24 dev ${tag}s
  ip -n $C link set ${tag}c mtu $mtu
  ip -n $S link set ${tag}s mtu $mtu
  ip -n $C link set ${tag}c up
  ip -n $S link set ${tag}s up
  ip netns exec $C ethtool -K ${tag}c tso off gso off gro off tx off >/dev/null 2>&1 || true
  ip netns exec $S ethtool -K ${tag}s tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}

up() {
  local n=$1 dir=$2
  local net=10.6$n.0
  link "$n" "$dir"
  local i=10 args=()
  for name in chatgpt.com api.openai.com claude.ai gemini.google.com newtool.ai; do
    ip -n $S addr add $net.$i/24 dev ${tag}s
    args+=(--address=/$name/$net.$i)
    i=$((i + 1))
  done
  echo "nameserver $net.2" >/etc/netns/$C/resolv.conf
  ip netns exec $S dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
    --listen-address=$net.2 --local-ttl=300 --pid-file="$dir/dnsmasq.pid" "${args[@]}" \
    >"$dir/dnsmasq.log" 2>&1 &
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=lantern-test -days 30 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1
  ip netns exec $S python3 "$here/../../captures/tools/https_server.py" "$dir/cert.pem" \
    "$dir/key.pem" >"$dir/server.log" 2>&1 &
  echo $! >"$dir/server.pid"
  # Ready when both answer.
  for _ in $(seq 100); do
    if ip netns exec $C bash -c "exec 3<>/dev/tcp/$net.10/443" 2>/dev/null \
      && [ -s "$dir/dnsmasq.pid" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "net.sh: servers in $S did not come up" >&2
  exit 1
}

case $cmd in
  up) up "$3" "$4" ;;
  link) link "$3" "$4" 9000 ;;
  down) down "$3" ;;
  *) echo "usage: net.sh up|link TAG N DIR | down TAG DIR" >&2; exit 2 ;;
esac
