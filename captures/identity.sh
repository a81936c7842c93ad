#!/usr/bin/env bash
# identity.sh - remake identity.pcap: who holds an address, learned from the wire.
#
# Usage (as root, on Debian 12):  captures/identity.sh [OUT_DIR]   (default: this directory)
#
# A small office LAN in network namespaces: lt-lan holds a bridge (10.88.0.1/16) with dnsmasq
# as DHCP server (10.88.0.50 for both clients' MACs, one at a time, and a pool of 10.88.0.60; DHCPv6 fd88::50) and DNS server, an MIT
# Kerberos KDC (krb5kdc, realm CORP.EXAMPLE, UDP and TCP port 88) and tools/https_server.py on
# one address per AI name. Two client namespaces hang off the bridge; tcpdump on the bridge is
# the SPAN port. In order:
#
#   1. lt-pc1 (MAC 02:88:00:00:00:01): ISC dhclient sends host name "alice-laptop" and FQDN
#      "alice-laptop.corp.example" and gets 10.88.0.50 (and fd88::50 over DHCPv6); kinit alice
#      over UDP, kvno for a service ticket (TGS); curl to chatgpt.com, Python to api.openai.com,
#      curl over IPv6 to copilot.microsoft.com; kdestroy; dhclient -r releases the addresses.
#   2. lt-pc2 (MAC 02:88:00:00:00:02): busybox udhcpc sends host name "build-server" and gets
#      the same 10.88.0.50; kinit with a keytab as the machine account BUILD01$ over TCP; curl to
#      api.openai.com and to claude.ai; keeps the address.
#   3. lt-pc1 again, dhclient without a host name: it gets 10.88.0.60 (the other client holds
#      .50); curl to gemini.google.com.
#
# Packages: iproute2 tcpdump dnsmasq-base isc-dhcp-client busybox krb5-kdc krb5-user curl python3.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
TOOLS=$HERE/tools
L=lt-lan
P1=lt-pc1
P2=lt-pc2
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()

for t in ip tcpdump dnsmasq dhclient busybox krb5kdc kdb5_util kadmin.local kinit kvno kdestroy curl python3 openssl; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }

cleanup() {
  for pid in "${PIDS[@]}" $(jobs -p); do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in $L $P1 $P2; do ip netns del $ns 2>/dev/null || true; done
  rm -rf /etc/netns/$P1 /etc/netns/$P2 "$WORK"
}
trap cleanup EXIT

NAMES=(
  "chatgpt.com 10.88.1.1"
  "api.openai.com 10.88.1.2"
  "claude.ai 10.88.1.3"
  "gemini.google.com 10.88.1.4"
)

lan() {
  ip netns add $L
  ip netns exec $L ip link set lo up
  ip netns exec $L ip link add br0 type bridge
  ip netns exec $L ip addr add 10.88.0.1/16 dev br0
  ip netns exec $L ip -6 addr add fd88::1/64 dev br0 nodad
  local dns_args=()
  for entry in "${NAMES[@]}"; do
    read -r name v4 <<<"$entry"
    ip netns exec $L ip addr add "$v4/16" dev br0
    dns_args+=(--address="/$name/$v4")
  done
  # One name on IPv6 only, for the laptop's DHCPv6 address.
  ip netns exec $L ip -6 addr add fd88::1:5/64 dev br0 nodad
  dns_args+=(--address="/copilot.microsoft.com/fd88::1:5")
  ip netns exec $L ip link set br0 up
  echo "02:88:00:00:00:01,02:88:00:00:00:02,10.88.0.50" >"$WORK/dhcp-hosts"
  # Both clients' MACs are given 10.88.0.50, one at a time (as for a laptop's wired and
  # wireless cards): the second client gets the address the first released. Before the first
  # comes back, .50 is the second's alone, so the first gets the pool's one address, .60.
  ip netns exec $L dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
    --interface=br0 --except-interface=lo --local-ttl=300 --pid-file="$WORK/dnsmasq.pid" \
    --dhcp-range=10.88.0.60,10.88.0.60,255.255.0.0,1h \
    --dhcp-hostsfile="$WORK/dhcp-hosts" \
    --dhcp-range=fd88::50,fd88::50,64,1h \
    --dhcp-leasefile="$WORK/dnsmasq.leases" --dhcp-authoritative \
    --dhcp-option=option:router,10.88.0.1 --dhcp-option=option:dns-server,10.88.0.1 \
    "${dns_args[@]}" 2>"$WORK/dnsmasq.log" &
  PIDS+=($!)
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=lantern-test -days 3650 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  ip netns exec $L python3 "$TOOLS/https_server.py" "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do grep -q ready "$WORK/server.log" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$WORK/server.log" || { echo "test server did not start" >&2; exit 1; }
}

kdc() {
  mkdir -p "$WORK/krb"
  cat >"$WORK/krb/kdc.conf" <<EOF
[kdcdefaults]
    kdc_ports = 88
    kdc_tcp_ports = 88
[realms]
    CORP.EXAMPLE = {
        database_name = $WORK/krb/principal
        key_stash_file = $WORK/krb/stash
        acl_file = $WORK/krb/kadm5.acl
        max_life = 10h
        max_renewable_life = 7d
    }
[logging]
    kdc = FILE:$WORK/krb/kdc.log
EOF
  : >"$WORK/krb/kadm5.acl"
  for mode in udp tcp; do
    local limit=1465
    [ $mode = tcp ] && limit=1
    cat >"$WORK/krb/krb5-$mode.conf" <<EOF
[libdefaults]
    default_realm = CORP.EXAMPLE
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    udp_preference_limit = $limit
[realms]
    CORP.EXAMPLE = {
        kdc = 10.88.0.1
    }
EOF
  done
  export KRB5_KDC_PROFILE=$WORK/krb/kdc.conf KRB5_CONFIG=$WORK/krb/krb5-udp.conf
  kdb5_util create -s -r CORP.EXAMPLE -P master-password >/dev/null
  kadmin.local -q "addprinc +requires_preauth -pw alice-password alice" >/dev/null
  kadmin.local -q "addprinc -randkey BUILD01\$" >/dev/null
  kadmin.local -q "addprinc -randkey HTTP/intranet.corp.example" >/dev/null
  kadmin.local -q "ktadd -k $WORK/krb/build01.keytab BUILD01\$" >/dev/null
  ip netns exec $L krb5kdc -n -P "$WORK/krb/kdc.pid" &
  PIDS+=($!)
  sleep 1
}

# client NS MAC NAME: a namespace on the bridge, link up, no address yet.
client() {
  local ns=$1 mac=$2 port=$3
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  ip link add eth0 netns "$ns" address "$mac" type veth peer name "$port" netns $L
  ip netns exec $L ip link set "$port" master br0 up
  ip netns exec "$ns" ip link set eth0 up
  mkdir -p "/etc/netns/$ns"
  echo "nameserver 10.88.0.1" >"/etc/netns/$ns/resolv.conf"
  printf '127.0.0.1 localhost\n' >"/etc/netns/$ns/hosts"
}

# pc1: ISC dhclient (v4 and v6) as alice's laptop, kinit over UDP, then AI traffic.
pc1() {
  cat >"$WORK/dhclient.conf" <<EOF
send host-name "alice-laptop";
send fqdn.fqdn "alice-laptop.corp.example.";
send fqdn.server-update off;
EOF
  local dh=(dhclient -cf "$WORK/dhclient.conf" -sf "$TOOLS/dhcp_script.sh" -lf "$WORK/pc1.leases" -pf "$WORK/pc1.pid")
  ip netns exec $P1 "${dh[@]}" -1 eth0
  # DHCPv6 needs the link-local address, which is tentative until duplicate detection ends.
  for _ in $(seq 50); do
    ip netns exec $P1 ip -6 addr show dev eth0 scope link | grep -q tentative || break
    sleep 0.1
  done
  ip netns exec $P1 "${dh[@]}" -6 -1 -lf "$WORK/pc1-6.leases" -pf "$WORK/pc1-6.pid" eth0
  export KRB5CCNAME=FILE:$WORK/pc1.cc KRB5_CONFIG=$WORK/krb/krb5-udp.conf
  echo alice-password | ip netns exec $P1 kinit alice >/dev/null
  ip netns exec $P1 kvno HTTP/intranet.corp.example >/dev/null
  ip netns exec $P1 curl -sk https://chatgpt.com/ -o /dev/null
  ip netns exec $P1 python3 "$TOOLS/python_clients.py" upload api.openai.com 20000 10.88.0.50
  ip netns exec $P1 curl -6 -sk https://copilot.microsoft.com/ -o /dev/null
  ip netns exec $P1 kdestroy
  ip netns exec $P1 "${dh[@]}" -6 -r -lf "$WORK/pc1-6.leases" -pf "$WORK/pc1-6.pid" eth0
  ip netns exec $P1 "${dh[@]}" -r eth0
}

# pc2: busybox udhcpc as a build server, kinit as the machine account over TCP, then the API.
pc2() {
  ip netns exec $P2 busybox udhcpc -i eth0 -x hostname:build-server -s "$TOOLS/dhcp_script.sh" -q -n -t 5 >/dev/null
  export KRB5CCNAME=FILE:$WORK/pc2.cc KRB5_CONFIG=$WORK/krb/krb5-tcp.conf
  ip netns exec $P2 kinit -k -t "$WORK/krb/build01.keytab" 'BUILD01$'
  ip netns exec $P2 python3 "$TOOLS/python_clients.py" upload api.openai.com 50000 10.88.0.50
  ip netns exec $P2 curl -sk https://claude.ai/ -o /dev/null
  ip netns exec $P2 kdestroy
}

# pc1 again, while pc2 holds 10.88.0.50: dhclient without a host name this time; the device is
# known by its MAC. No Kerberos: the laptop's user is not known at the new address.
pc1_back() {
  echo "02:88:00:00:00:02,10.88.0.50" >"$WORK/dhcp-hosts"
  kill -HUP "$(cat "$WORK/dnsmasq.pid")"
  sleep 0.5
  : >"$WORK/dhclient-bare.conf"
  ip netns exec $P1 dhclient -cf "$WORK/dhclient-bare.conf" -sf "$TOOLS/dhcp_script.sh" \
    -lf "$WORK/pc1-back.leases" -pf "$WORK/pc1-back.pid" -1 eth0
  ip netns exec $P1 curl -sk https://gemini.google.com/ -o /dev/null
}

lan
kdc
client $P1 02:88:00:00:00:01 v1
client $P2 02:88:00:00:00:02 v2
ip netns exec $L tcpdump -Z root -i br0 -s 0 -U -w "$WORK/identity.pcap" 'not arp and not icmp6' 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
for _ in $(seq 50); do grep -q listening "$WORK/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
pc1
pc2
pc1_back
sleep 1
kill -INT $TCPDUMP
wait $TCPDUMP 2>/dev/null || true
mkdir -p "$OUT"
cp "$WORK/identity.pcap" "$OUT/identity.pcap"
ls -l "$OUT/identity.pcap"
