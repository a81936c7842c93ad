#!/usr/bin/env bash
# make.sh - remake lantern's own test captures with real clients in network namespaces.
#
# Usage (as root, on Debian 12):  captures/make.sh [OUT_DIR]      (default: this directory)
#        ONLY="http-local-models ..." captures/make.sh   remakes only those base captures
#        (identity.pcap is made by identity.sh, which this runs too: ONLY=identity)
#
# Two namespaces joined by a veth pair (offloads off, so the capture shows the segments a real
# link carries): lt-client (10.77.0.10 to 10.77.0.13, fd77::10) and lt-server (the resolver
# 10.77.0.1 and one address per AI name). dnsmasq answers for the names; a Python server speaks
# HTTPS on :443 for any name and plain HTTP on the model-server ports (11434, 8000, 8080, 1234)
# and on 3000 and 80. MCP servers from the reference Python SDK (tools/mcp_server.py) serve the
# MCP captures on 8001 (streamable HTTP) and 8002 (SSE), and with TLS on 8443 (reached as
# mcp.linear.app:443). For encrypted-dns.pcap, tools/dns_servers.py is a DNS-over-HTTPS resolver
# (dns.google, reached on 443) and a DNS-over-TLS one (dns.quad9.net:853) in front of dnsmasq.
# Real clients - curl, Python, Node, headless
# Chromium, dig - make the traffic; tcpdump records it on the client side. Variants of one
# capture (pcapng, nanosecond, big-endian, VLAN, QinQ, Linux cooked v1/v2, a multi-interface
# pcapng and a file cut short) are made from it with Debian's tools.
#
# Tunnel variants come from the kernel's VXLAN device (tcpreplay into it, capture the underlay)
# and, for the encapsulations this kernel has no device for, from scapy wrapping the captured
# frames (tools/wrap.py); fragments from scapy and from the kernel itself (a DNS answer larger
# than a 576-byte MTU).
#
# Packages: iproute2 ethtool iputils-ping tcpdump dnsmasq-base curl nodejs chromium bind9-dnsutils openssl
#           wireshark-common (editcap, mergecap) tcpreplay (tcprewrite, tcpreplay), python3 with
#           scapy (pip install scapy==2.8.0); iptables for encrypted-dns; for the MCP and
#           client captures also golang-go openjdk-17-jdk-headless iptables (Debian), pip install
#           mcp==2.3.0 requests==2.34.2 httpx==0.29.0, and the TypeScript SDK (npm install
#           @modelcontextprotocol/sdk@1.32.2, into $NODE_MCP, default /tmp/lantern-capture-npm;
#           make.sh installs it if missing).
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
TOOLS=$HERE/tools
C=lt-client
S=lt-server
WORK=$(mktemp -d)
PIDS=()
ONLY=${ONLY:-}
# A tcpdump filter for one recording only (see record); never taken from the environment.
FILTER=

# want NAME: whether this run makes the capture NAME (all of them unless ONLY lists some).
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

for t in ip ethtool ping tcpdump dnsmasq curl node chromium dig openssl editcap mergecap tcprewrite tcpreplay python3; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
python3 -c "import scapy" 2>/dev/null || { echo "missing python module: scapy" >&2; exit 1; }

cleanup() {
  for pid in "${PIDS[@]}" $(jobs -p); do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in $C $S lt-u1 lt-u2; do ip netns del $ns 2>/dev/null || true; done
  rm -rf /etc/netns/$C "$WORK"
}
trap cleanup EXIT

in_c() { ip netns exec $C "$@"; }
in_s() { ip netns exec $S "$@"; }

# name -> address in lt-server; dnsmasq answers A (and AAAA where given) with TTL 300.
NAMES=(
  "chatgpt.com 10.77.1.1 fd77::1:1"
  "api.openai.com 10.77.1.2"
  "claude.ai 10.77.1.3"
  "api.anthropic.com 10.77.1.4"
  "gemini.google.com 10.77.1.5"
  "www.example.org 10.77.1.6"
  "newtool.ai 10.77.1.7"
  "ollama.lan 10.77.1.8"
  "huggingface.co 10.77.1.9"
  "deepseek.com 10.77.1.10"
  "vllm.lan 10.77.1.11"
  "lmstudio.lan 10.77.1.12"
  "wiki.lan 10.77.1.14"
  "mcp.corp.lan 10.77.1.15"
  "mcp-sse.corp.lan 10.77.1.16"
  "llm-gw.corp.lan 10.77.1.17"
  "mcp.linear.app 10.77.1.18"
  "promptforge.ai 10.77.1.19"
  "dns.google 10.77.1.20"
  "dns.quad9.net 10.77.1.21"
)
# Addresses without a name (a model server reached by address).
BARE=(10.77.1.13)
# One "CDN" address shared by several names, AI and not, as a real CDN front is: the last lookup
# before a connection to it is often a different name from the one the connection is for.
# (chat.deepseek.com: dnsmasq's most specific --address wins over deepseek.com's.)
CDN=10.77.2.1
CDN_NAMES=(perplexity.ai character.ai chat.deepseek.com cdn.example.net static.example.net)
# An AI name on an address of its own with a DNS HTTPS record (type 65) offering ECH, so that
# Chromium's own resolver finds it and sends a real ECH ClientHello whose outer SNI is the
# public name ech-public.example.net (which dnsmasq does not answer and nobody resolves). Its
# more specific --address wins over perplexity.ai's, which covers subdomains.
ECH_NAME=www.perplexity.ai
ECH_ADDR=10.77.2.2
ECH_PUBLIC=ech-public.example.net

setup() {
  ip netns add $C
  ip netns add $S
  ip link add lc0 netns $C type veth peer name ls0 netns $S
  in_c ip addr add 10.77.0.10/16 dev lc0
  in_c ip addr add 10.77.0.11/16 dev lc0
  # Two more client addresses for encrypted-dns.pcap (added after .10 and .11: the kernel still
  # picks 10.77.0.10 as the source when a client does not choose one).
  in_c ip addr add 10.77.0.12/16 dev lc0
  in_c ip addr add 10.77.0.13/16 dev lc0
  in_c ip -6 addr add fd77::10/64 dev lc0 nodad
  in_s ip addr add 10.77.0.1/16 dev ls0
  in_s ip -6 addr add fd77::1/64 dev ls0 nodad
  # 150 addresses for one name: an answer larger than a 576-byte MTU, fragmented by the kernel.
  local dns_args=()
  for i in $(seq 1 150); do dns_args+=(--address="/api.mistral.ai/10.77.3.$i"); done
  for entry in "${NAMES[@]}"; do
    read -r name v4 v6 <<<"$entry"
    in_s ip addr add "$v4/16" dev ls0
    dns_args+=(--address="/$name/$v4")
    if [ -n "${v6:-}" ]; then
      in_s ip -6 addr add "$v6/64" dev ls0 nodad
      dns_args+=(--address="/$name/$v6")
    fi
  done
  for v4 in "${BARE[@]}"; do in_s ip addr add "$v4/16" dev ls0; done
  in_s ip addr add "$CDN/16" dev ls0
  for name in "${CDN_NAMES[@]}"; do dns_args+=(--address="/$name/$CDN"); done
  in_s ip addr add "$ECH_ADDR/16" dev ls0
  dns_args+=(--address="/$ECH_NAME/$ECH_ADDR"
    --dns-rr="$ECH_NAME,65,$(python3 "$TOOLS/ech_config.py" "$ECH_PUBLIC")")
  for ns in $C $S; do ip netns exec $ns ip link set lo up; done
  in_c ip link set lc0 up
  in_s ip link set ls0 up
  # Segmentation offloads off: the capture shows the segments a real 1500-byte link carries.
  # Checksum offload stays on at the client: without it the kernel refuses UDP GSO sends, and
  # Chromium loses the first of its two QUIC Initial packets.
  in_c ethtool -K lc0 tso off gso off gro off >/dev/null 2>&1 || true
  in_s ethtool -K ls0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  mkdir -p /etc/netns/$C
  echo "nameserver 10.77.0.1" >/etc/netns/$C/resolv.conf
  printf '127.0.0.1 localhost\n' >/etc/netns/$C/hosts

  ip netns exec $S dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
    --listen-address=10.77.0.1 --local-ttl=300 --pid-file="$WORK/dnsmasq.pid" \
    "${dns_args[@]}" &
  PIDS+=($!)
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=lantern-test -days 3650 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  ip netns exec $S python3 "$TOOLS/https_server.py" "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do grep -q ready "$WORK/server.log" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$WORK/server.log" || { echo "test server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }
  # Warm the neighbour caches so that captures do not start with ARP.
  in_c ping -c1 -W1 10.77.0.1 >/dev/null
}

# record NAME LINKTYPE COMMAND...: capture COMMAND's traffic on the client's side. FILTER, if
# set, is a tcpdump filter for this recording (e.g. to see only one direction of a flow).
record() {
  local name=$1 link=$2; shift 2
  local iface=lc0
  [ "$link" = EN10MB ] || iface=any
  ip netns exec $C tcpdump -Z root -i $iface -y "$link" -s 0 -U -w "$WORK/$name.pcap" ${FILTER:+"$FILTER"} 2>"$WORK/$name.tcpdump" &
  local pid=$!
  for _ in $(seq 50); do grep -q listening "$WORK/$name.tcpdump" 2>/dev/null && break; sleep 0.1; done
  "$@" >/dev/null
  sleep 1
  kill -INT $pid
  wait $pid 2>/dev/null || true
}

# record_all NAME COMMAND...: one run of COMMAND captured as Ethernet, Linux SLL and SLL2 at once.
record_all() {
  local name=$1; shift
  local pids=()
  for link in EN10MB LINUX_SLL LINUX_SLL2; do
    local iface=lc0
    [ "$link" = EN10MB ] || iface=any
    ip netns exec $C tcpdump -Z root -i $iface -y $link -s 0 -U -w "$WORK/$name-$link.pcap" 2>"$WORK/$name-$link.tcpdump" &
    pids+=($!)
  done
  for link in EN10MB LINUX_SLL LINUX_SLL2; do
    for _ in $(seq 50); do grep -q listening "$WORK/$name-$link.tcpdump" 2>/dev/null && break; sleep 0.1; done
  done
  "$@" >/dev/null
  sleep 1
  for pid in "${pids[@]}"; do kill -INT "$pid"; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# chromium_get URL [FLAG...]: headless Chromium over TCP loads URL.
chromium_get() {
  local profile url=$1
  shift
  profile=$(mktemp -d)
  in_c chromium --headless=new --no-sandbox --disable-gpu --ignore-certificate-errors \
    --disable-background-networking --disable-component-update --disable-sync --no-first-run \
    --disable-quic --disable-features=DnsOverHttps "$@" --user-data-dir="$profile" --dump-dom "$url" 2>/dev/null
  rm -rf "$profile"
}

# chromium_quic NAME [SECONDS [FLAG...]]: Chromium forced onto QUIC for one origin: no server
# answers, so it sends its Initial packets (chaos-protected, the ClientHello split over two) and
# retries until the timeout (8 s) stops it.
chromium_quic() {
  local profile name=$1 secs=${2:-8}
  shift $(($# < 2 ? $# : 2))
  profile=$(mktemp -d)
  timeout "$secs" ip netns exec $C chromium --headless=new --no-sandbox --disable-gpu \
    --ignore-certificate-errors --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --disable-features=DnsOverHttps --enable-quic \
    --origin-to-force-quic-on="$name:443" "$@" --user-data-dir="$profile" --dump-dom "https://$name/" 2>/dev/null || true
  rm -rf "$profile"
}

# The kernel's own VXLAN device: replay a capture into it and record the underlay.
vxlan_replay() {
  local in=$1 out=$2
  ip netns add lt-u1
  ip netns add lt-u2
  ip link add u1 netns lt-u1 mtu 9000 type veth peer name u2 netns lt-u2 mtu 9000
  ip netns exec lt-u1 ip addr add 192.0.2.1/24 dev u1
  ip netns exec lt-u2 ip addr add 192.0.2.2/24 dev u2
  ip netns exec lt-u1 ip link set u1 up
  ip netns exec lt-u2 ip link set u2 up
  ip netns exec lt-u1 ip link add t0 type vxlan id 42 local 192.0.2.1 remote 192.0.2.2 dstport 4789 dev u1
  ip netns exec lt-u1 ip link set t0 mtu 1500 up
  ip netns exec lt-u1 tcpdump -Z root -i u1 -s 0 -U -w "$out" udp port 4789 2>"$WORK/vxlan.tcpdump" &
  local pid=$!
  for _ in $(seq 50); do grep -q listening "$WORK/vxlan.tcpdump" 2>/dev/null && break; sleep 0.1; done
  ip netns exec lt-u1 tcpreplay -q --pps=200 -i t0 "$in" >/dev/null 2>&1
  sleep 1
  kill -INT $pid
  wait $pid 2>/dev/null || true
  ip netns del lt-u1
  ip netns del lt-u2
}

setup

# curl to ChatGPT: DNS (A and AAAA) then TLS, recorded as Ethernet, SLL and SLL2 at once.
want curl-chatgpt && record_all curl-chatgpt in_c curl -sk https://chatgpt.com/ -o /dev/null
# Python uploads 200,000 bytes to the Anthropic API from the second client address.
want python-upload && record python-upload EN10MB in_c python3 "$TOOLS/python_clients.py" upload api.anthropic.com 200000 10.77.0.11
# Node posts a 5,000-character prompt to the OpenAI API.
want node-openai && record node-openai EN10MB in_c node "$TOOLS/node_client.js" api.openai.com 5000
# Headless Chromium loads claude.ai: its post-quantum ClientHello spans two TCP segments.
want chromium-claude && record chromium-claude EN10MB chromium_get https://claude.ai/
# Python resolves gemini.google.com, then speaks TLS to the address without SNI.
want nosni-gemini && record nosni-gemini EN10MB in_c python3 "$TOOLS/python_clients.py" nosni gemini.google.com
# curl posts a prompt to an Ollama-style server over plain HTTP on port 11434.
want http-ollama && record http-ollama EN10MB in_c curl -s http://ollama.lan:11434/api/generate -d '{"model":"llama3","prompt":"hello"}'
# dig: DNS over TCP and UDP for AI names and others, with no connection following.
want dns-lookups && record dns-lookups EN10MB sh -c "ip netns exec $C dig +tcp huggingface.co A; ip netns exec $C dig deepseek.com A; ip netns exec $C dig newtool.ai A; ip netns exec $C dig www.example.org A"
# curl to a name that is not in the catalog but looks like AI: a candidate.
want candidate-newtool && record candidate-newtool LINUX_SLL2 in_c curl -sk https://newtool.ai/ -o /dev/null
# curl to ChatGPT over IPv6 (for the IPv6-in-IPv4 variant).
want curl-chatgpt-v6 && record curl-chatgpt-v6 EN10MB in_c curl -6 -sk https://chatgpt.com/ -o /dev/null
# Headless Chromium forced onto QUIC for gemini.google.com.
want chromium-quic-gemini && record chromium-quic-gemini EN10MB chromium_quic gemini.google.com
# Plain HTTP to model servers on the local network: Python to a vLLM-style server on 8000 by
# name, curl to an LM Studio-style server on 1234, curl by address to a llama.cpp-style server
# on 8080, and Ollama's /api/chat path sent to an ordinary web app on 3000 (not a model server).
local_models() {
  in_c python3 "$TOOLS/python_clients.py" chat http://vllm.lan:8000/v1/chat/completions
  in_c curl -s http://lmstudio.lan:1234/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model":"qwen2.5-7b","messages":[{"role":"user","content":"hello"}]}'
  in_c curl -s http://10.77.1.13:8080/v1/embeddings -H 'Content-Type: application/json' \
    -d '{"model":"nomic-embed","input":"quarterly revenue"}'
  in_c curl -s http://wiki.lan:3000/api/chat -H 'Content-Type: application/json' -d '{"message":"hi"}'
}
want http-local-models && record http-local-models EN10MB local_models
# A shared "CDN" address: Chromium connects to AI names on 10.77.2.1 by its own host-resolver
# rule (it sends no DNS query for them), while dig looks up those names and the non-AI names on
# the same address around and during each connection. The last answer for the address before a
# connection is then never the connection's name; only the SNI (sent in clear, with GREASE ECH)
# names each flow. The server answers ?delay=2 two seconds late, so the connection is open while
# the lookup in the background happens.
CDN_RULES="MAP perplexity.ai $CDN, MAP character.ai $CDN, MAP chat.deepseek.com $CDN"
chromium_mapped() { chromium_get "$1" --host-resolver-rules="$CDN_RULES"; }
# The same over QUIC (no server answers; Initials for 6 seconds).
chromium_quic_mapped() { chromium_quic "$1" 6 --host-resolver-rules="$CDN_RULES"; }
# dig_during SECONDS NAME COMMAND...: run COMMAND, and SECONDS after it starts look NAME up.
dig_during() {
  local delay=$1 name=$2; shift 2
  (sleep "$delay"; in_c dig "$name" A >/dev/null) &
  local pid=$!
  "$@"
  wait $pid
}
shared_cdn() {
  for name in perplexity.ai character.ai chat.deepseek.com cdn.example.net; do in_c dig "$name" A; done
  for name in perplexity.ai character.ai chat.deepseek.com; do
    in_c dig static.example.net A
    dig_during 1.2 cdn.example.net chromium_mapped "https://$name/?delay=2"
  done
}
want chromium-shared-cdn && record chromium-shared-cdn EN10MB shared_cdn
shared_cdn_quic() {
  for name in perplexity.ai character.ai cdn.example.net; do in_c dig "$name" A; done
  for name in perplexity.ai character.ai; do
    in_c dig static.example.net A
    dig_during 2 cdn.example.net chromium_quic_mapped "$name"
  done
}
want chromium-quic-shared-cdn && record chromium-quic-shared-cdn EN10MB shared_cdn_quic
# Python looks up cdn.example.net, then perplexity.ai (both 10.77.2.1) and speaks TLS without SNI
# to the address; while the connection is open it looks up perplexity.ai again and then
# static.example.net, and sends its second request after them.
want nosni-relookup && record nosni-relookup EN10MB in_c python3 "$TOOLS/python_clients.py" relookup \
  cdn.example.net perplexity.ai static.example.net
# A real ECH ClientHello: Chromium's own resolver asks for the HTTPS record of www.perplexity.ai,
# finds an ECH configuration in it and sends the outer ClientHello with the public name
# ech-public.example.net as SNI. The server has no ECH key, so the handshake completes for the
# outer hello; Chromium aborts it (ech_required) and retries without ECH, with the real SNI.
want chromium-real-ech && record chromium-real-ech EN10MB chromium_get "https://$ECH_NAME/"
# MCP: the reference Python SDK's server (tools/mcp_server.py: tools add and search_docs,
# resource docs://handbook, prompt summarize) on mcp.corp.lan:8001 (streamable HTTP, /mcp) and
# mcp-sse.corp.lan:8002 (the older SSE transport, /sse and /messages/), started once for the
# MCP captures.
MCP_STARTED=
start_mcp_servers() {
  [ -n "$MCP_STARTED" ] && return 0
  python3 -c "import mcp" 2>/dev/null || { echo "missing python module: mcp (pip install mcp==2.3.0)" >&2; exit 1; }
  ip netns exec $S python3 "$TOOLS/mcp_server.py" streamable-http 8001 >"$WORK/mcp-http.log" 2>&1 &
  PIDS+=($!)
  ip netns exec $S python3 "$TOOLS/mcp_server.py" sse 8002 >"$WORK/mcp-sse.log" 2>&1 &
  PIDS+=($!)
  for log in mcp-http mcp-sse; do
    for _ in $(seq 100); do grep -q "Uvicorn running" "$WORK/$log.log" 2>/dev/null && break; sleep 0.1; done
    grep -q "Uvicorn running" "$WORK/$log.log" || { echo "MCP server did not start" >&2; cat "$WORK/$log.log" >&2; exit 1; }
  done
  MCP_STARTED=1
}
# The Python SDK's client: initialize (clientInfo lantern-capture-client 1.4.0), tools/list,
# two tools/call, resources/list, resources/read, prompts/list, then DELETE /mcp.
if want mcp-streamable-http; then
  start_mcp_servers
  record mcp-streamable-http EN10MB in_c python3 "$TOOLS/mcp_client.py" streamable-http http://mcp.corp.lan:8001/mcp
fi
# The same client over SSE: GET /sse (text/event-stream, held open), the server names its
# /messages/?session_id= endpoint in the stream, the client POSTs each JSON-RPC message there.
if want mcp-sse; then
  start_mcp_servers
  record mcp-sse EN10MB in_c python3 "$TOOLS/mcp_client.py" sse http://mcp-sse.corp.lan:8002/sse
fi
# The same client in the SDK's default mode ("auto"): a stateless server/discover probe at
# protocol 2026-07-28, then every request on its own (no initialize, no Mcp-Session-Id).
if want mcp-streamable-http-modern; then
  start_mcp_servers
  record mcp-streamable-http-modern EN10MB in_c python3 "$TOOLS/mcp_client.py" streamable-http \
    http://mcp.corp.lan:8001/mcp auto
fi
# The TypeScript SDK's client in Node against the same servers: streamable HTTP, then SSE.
NODE_MCP=${NODE_MCP:-/tmp/lantern-capture-npm}
node_mcp() {
  in_c env NODE_PATH="$NODE_MCP/node_modules" node "$TOOLS/mcp_node_client.js" streamable-http http://mcp.corp.lan:8001/mcp
  in_c env NODE_PATH="$NODE_MCP/node_modules" node "$TOOLS/mcp_node_client.js" sse http://mcp-sse.corp.lan:8002/sse
}
if want mcp-node-client; then
  [ -d "$NODE_MCP/node_modules/@modelcontextprotocol/sdk" ] ||
    npm install --silent --no-audit --no-fund --prefix "$NODE_MCP" @modelcontextprotocol/sdk@1.32.2 >/dev/null
  start_mcp_servers
  record mcp-node-client EN10MB node_mcp
fi
# A remote MCP server over HTTPS under a vendor's documented MCP host (mcp.linear.app, whose
# endpoint is https://mcp.linear.app/mcp): the same Python server with TLS on 8443, reached on
# 443 through a REDIRECT rule for its address (tools/https_server.py holds *:443). The Python
# SDK's client and then the TypeScript SDK's (neither verifies the self-signed certificate)
# run their calls: on the wire only the SNI, the ClientHellos and sizes are in clear.
if want mcp-remote-tls; then
  command -v iptables >/dev/null || { echo "missing tool: iptables" >&2; exit 1; }
  [ -d "$NODE_MCP/node_modules/@modelcontextprotocol/sdk" ] ||
    npm install --silent --no-audit --no-fund --prefix "$NODE_MCP" @modelcontextprotocol/sdk@1.32.2 >/dev/null
  in_s iptables -t nat -A PREROUTING -d 10.77.1.18 -p tcp --dport 443 -j REDIRECT --to-ports 8443
  ip netns exec $S python3 "$TOOLS/mcp_server.py" streamable-http 8443 "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/mcp-tls.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "Uvicorn running" "$WORK/mcp-tls.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "Uvicorn running" "$WORK/mcp-tls.log" || { echo "MCP TLS server did not start" >&2; cat "$WORK/mcp-tls.log" >&2; exit 1; }
  mcp_remote_tls() {
    in_c python3 "$TOOLS/mcp_client.py" streamable-http https://mcp.linear.app/mcp
    sleep 0.5
    in_c env NODE_TLS_REJECT_UNAUTHORIZED=0 NODE_PATH="$NODE_MCP/node_modules" node "$TOOLS/mcp_node_client.js" \
      streamable-http https://mcp.linear.app/mcp 2>/dev/null
  }
  record mcp-remote-tls EN10MB mcp_remote_tls
fi
# A company LLM gateway on an internal host over plain HTTP on port 80, its routes under
# prefixes: curl posts an OpenAI chat completion under /model-center/api/llm/openai/, Python
# urllib an embedding to /litellm/v1/embeddings, Python requests an Anthropic message to
# /api/v1/messages, curl an OpenAI Responses call to /ai/openai/v1/responses.
gateway_prefix() {
  in_c curl -s http://llm-gw.corp.lan/model-center/api/llm/openai/v1/chat/completions \
    -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-gw-test' \
    -d '{"model":"gpt-4o","messages":[{"role":"user","content":"Draft a status update."}]}'
  in_c python3 -c '
import json, urllib.request
body = json.dumps({"model": "text-embedding-3-small", "input": "quarterly revenue"}).encode()
req = urllib.request.Request("http://llm-gw.corp.lan/litellm/v1/embeddings", data=body, method="POST",
    headers={"Content-Type": "application/json", "Authorization": "Bearer sk-litellm-test"})
print(urllib.request.urlopen(req).read().decode())'
  in_c python3 -c '
import requests
print(requests.post("http://llm-gw.corp.lan/api/v1/messages",
    headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
    json={"model": "claude-sonnet-4-5", "max_tokens": 256,
          "messages": [{"role": "user", "content": "Summarize the incident."}]}).text)'
  in_c curl -s http://llm-gw.corp.lan/ai/openai/v1/responses -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4.1-mini","input":"Translate to German: good morning"}'
}
want gateway-prefix && record gateway-prefix EN10MB gateway_prefix
# One API host, many client stacks, one after another (each waits for the previous to finish;
# the query names the client, readable in the HTTP variant): curl, Python urllib, requests and
# httpx, Node fetch (undici) and https, Go net/http, Java HttpClient, headless Chromium.
# BASE is https://api.openai.com (tools/https_server.py, self-signed: no client verifies) or
# http://vllm.lan:8000 (a local model server: User-Agent and path in clear).
same_api() {
  local base=$1 url
  for client in curl urllib requests httpx node-fetch node-https go java chromium; do
    url="$base/v1/chat/completions?client=$client"
    case $client in
      curl) in_c curl -sk "$url" -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-test-not-a-real-key' \
              -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in French."}]}' ;;
      urllib|requests|httpx) in_c python3 "$TOOLS/api_clients.py" "$client" "$url" ;;
      node-fetch) in_c node "$TOOLS/api_client_node.js" fetch "$url" ;;
      node-https) in_c node "$TOOLS/api_client_node.js" https "$url" ;;
      go) in_c "$WORK/api_client_go" "$url" ;;
      java) in_c java -Djdk.internal.httpclient.disableHostnameVerification=true "$TOOLS/ApiClient.java" "$url" ;;
      chromium) chromium_get "$base/v1/models?client=chromium" ;;
    esac
    sleep 0.5
  done
}
if want clients-same-api || want clients-same-api-http; then
  for t in go java; do command -v $t >/dev/null || { echo "missing tool: $t (golang-go, openjdk-17-jdk-headless)" >&2; exit 1; }; done
  python3 -c "import requests, httpx" 2>/dev/null || { echo "missing python modules: requests httpx" >&2; exit 1; }
  # Built before the capture (Java's single-file launcher compiles in memory as it starts).
  go build -o "$WORK/api_client_go" "$TOOLS/api_client.go"
fi
want clients-same-api && record clients-same-api EN10MB same_api https://api.openai.com
want clients-same-api-http && record clients-same-api-http EN10MB same_api http://vllm.lan:8000
# A later answer must not steal a flow's name: Python resolves perplexity.ai (10.77.2.1, the
# shared address), sends the SYN of a TCP connection to it and, while the connection is being
# set up, resolves static.example.net (a non-AI name on the same address), whose answer arrives
# under a millisecond after the SYN and before the first TLS byte; then TLS without SNI and a GET
# the server answers 1.5 s late (?delay=1.5), so the connection outlives the second of capture
# time the answers came in.
want nosni-race && record nosni-race EN10MB in_c python3 "$TOOLS/python_clients.py" race \
  perplexity.ai static.example.net
# Several requests on one plaintext HTTP/1.1 connection (tools/https_server.py and the MCP server
# both keep connections alive and answer with a length): curl asks the vLLM-style server for
# its models and, with --next, posts a chat completion on the same connection; then Python's
# http.client, on one connection to the MCP server, posts initialize, notifications/initialized
# and a JSON-RPC batch (tools/list and tools/call add) with the session id.
http_keepalive() {
  in_c curl -s http://vllm.lan:8000/v1/models --next -H 'Content-Type: application/json' \
    -d '{"model":"qwen","messages":[{"role":"user","content":"hi"}]}' http://vllm.lan:8000/v1/chat/completions
  in_c python3 "$TOOLS/python_clients.py" mcp-batch http://mcp.corp.lan:8001/mcp
}
if want http-keepalive; then
  start_mcp_servers
  record http-keepalive EN10MB http_keepalive
fi
# Uploads to a name that is not in the catalog but looks like AI (a candidate): Python resolves
# promptforge.ai and POSTs 2,000,000 bytes over TLS from 10.77.0.10, then 500,000 bytes from
# 10.77.0.11 (the server reads every byte).
candidate_upload() {
  in_c python3 "$TOOLS/python_clients.py" upload promptforge.ai 2000000 10.77.0.10
  in_c python3 "$TOOLS/python_clients.py" upload promptforge.ai 500000 10.77.0.11
}
want candidate-upload && record candidate-upload EN10MB candidate_upload
# Clients whose DNS the sensor cannot see, and a flow seen in one direction only. Resolvers:
# tools/dns_servers.py serves DNS over HTTPS for dns.google on 10.77.1.20:8453, which a DNAT rule
# makes 10.77.1.20:443 (a listener bound to 10.77.1.20:443 is refused while tools/https_server.py
# holds *:443, in either order, SO_REUSEADDR or not; REDIRECT would rewrite the address to
# 10.77.0.1), and DNS over TLS for dns.quad9.net on 10.77.1.21:853; both pass each query to
# dnsmasq inside lt-server, which the capture does not see. One client address each, one after
# another:
#   .10 curl with --doh-url: it looks dns.google up by plain DNS, then asks for claude.ai (A and
#       AAAA) over DoH and connects;
#   .11 dig +tls asks dns.quad9.net for chatgpt.com over DoT; curl connects to that answer
#       (--resolve), with no plain lookup;
#   .12 plain DNS, dig from the client's own address, then curl to gemini.google.com on the
#       answer (glibc's lookups leave from 10.77.0.10, the namespace's first address);
#   .13 the same to www.example.org, recorded as a SPAN port fed with one direction: the
#       recording drops every packet from 10.77.1.6, so the flow shows only client-to-server
#       packets while its DNS answer (from 10.77.0.1) stays.
encrypted_dns() {
  local addr
  in_c curl --doh-url https://dns.google/dns-query --doh-insecure -sk https://claude.ai/ --interface 10.77.0.10
  addr=$(in_c dig +tls +short @10.77.1.21 -b 10.77.0.11 chatgpt.com A)
  in_c curl -sk https://chatgpt.com/ --resolve "chatgpt.com:443:$addr" --interface 10.77.0.11
  addr=$(in_c dig +short -b 10.77.0.12 gemini.google.com A)
  in_c curl -sk https://gemini.google.com/ --resolve "gemini.google.com:443:$addr" --interface 10.77.0.12
  addr=$(in_c dig +short -b 10.77.0.13 www.example.org A)
  in_c curl -sk https://www.example.org/ --resolve "www.example.org:443:$addr" --interface 10.77.0.13
}
if want encrypted-dns; then
  command -v iptables >/dev/null || { echo "missing tool: iptables" >&2; exit 1; }
  in_s iptables -t nat -A PREROUTING -d 10.77.1.20 -p tcp --dport 443 -j DNAT --to-destination 10.77.1.20:8453
  ip netns exec $S python3 "$TOOLS/dns_servers.py" "$WORK/cert.pem" "$WORK/key.pem" \
    10.77.1.20:8453 10.77.1.21:853 10.77.0.1 >"$WORK/dns-servers.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do grep -q ready "$WORK/dns-servers.log" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$WORK/dns-servers.log" || { echo "DNS servers did not start" >&2; cat "$WORK/dns-servers.log" >&2; exit 1; }
  FILTER="not src host 10.77.1.6" record encrypted-dns EN10MB encrypted_dns
fi
# A DNS answer of 150 addresses through a 576-byte MTU: the kernel fragments it (last, as it
# changes the link).
if want dns-fragmented; then
  in_s ip link set ls0 mtu 576
  in_c ip link set lc0 mtu 576
  record dns-fragmented EN10MB in_c dig +bufsize=4096 +notcp +ignore api.mistral.ai A
fi

mkdir -p "$OUT"
if want curl-chatgpt; then
  cp "$WORK/curl-chatgpt-EN10MB.pcap" "$OUT/curl-chatgpt.pcap"
  cp "$WORK/curl-chatgpt-LINUX_SLL.pcap" "$OUT/curl-chatgpt-sll.pcap"
  cp "$WORK/curl-chatgpt-LINUX_SLL2.pcap" "$OUT/curl-chatgpt-sll2.pcap"
fi
for name in python-upload node-openai chromium-claude nosni-gemini http-ollama http-local-models \
  dns-lookups curl-chatgpt-v6 chromium-quic-gemini dns-fragmented; do
  if want "$name"; then cp "$WORK/$name.pcap" "$OUT/$name.pcap"; fi
done
for name in chromium-shared-cdn chromium-quic-shared-cdn nosni-relookup chromium-real-ech; do
  if want "$name"; then cp "$WORK/$name.pcap" "$OUT/$name.pcap"; fi
done
for name in mcp-streamable-http mcp-sse mcp-streamable-http-modern mcp-node-client mcp-remote-tls gateway-prefix \
  clients-same-api clients-same-api-http; do
  if want "$name"; then cp "$WORK/$name.pcap" "$OUT/$name.pcap"; fi
done
for name in nosni-race http-keepalive candidate-upload encrypted-dns; do
  if want "$name"; then cp "$WORK/$name.pcap" "$OUT/$name.pcap"; fi
done
# Who holds an address: DHCP and Kerberos on a LAN of its own (see identity.sh).
want identity && "$HERE/identity.sh" "$OUT"
if [ -n "$ONLY" ]; then
  ls -l "$OUT"/*.pcap
  exit 0
fi

# Variants of curl-chatgpt.pcap: the same packets in other formats and encapsulations.
editcap -F pcapng "$OUT/curl-chatgpt.pcap" "$OUT/curl-chatgpt.pcapng"
editcap -F nsecpcap "$OUT/curl-chatgpt.pcap" "$OUT/curl-chatgpt-nsec.pcap"
python3 "$TOOLS/pcap_swap.py" "$OUT/curl-chatgpt.pcap" "$OUT/curl-chatgpt-be.pcap"
tcprewrite --enet-vlan=add --enet-vlan-tag=42 --enet-vlan-cfi=0 --enet-vlan-pri=0 \
  -i "$OUT/curl-chatgpt.pcap" -o "$OUT/curl-chatgpt-vlan.pcap"
tcprewrite --enet-vlan=add --enet-vlan-tag=7 --enet-vlan-cfi=0 --enet-vlan-pri=0 \
  -i "$OUT/curl-chatgpt-vlan.pcap" -o "$OUT/curl-chatgpt-qinq.pcap"
# Two interfaces with different link types in one pcapng: Ethernet (DNS lookups) and SLL2
# (the candidate).
mergecap -F pcapng -w "$OUT/mixed-links.pcapng" "$OUT/dns-lookups.pcap" "$WORK/candidate-newtool.pcap"
# Tunnels: the kernel's VXLAN device, and scapy for what the kernel has no device for.
vxlan_replay "$OUT/curl-chatgpt.pcap" "$OUT/curl-chatgpt-vxlan.pcap"
for kind in gre gre-key-seq gretap erspan1 erspan2 erspan3 geneve vxlan-qinq mpls ipip 4in6 pppoe; do
  python3 "$TOOLS/wrap.py" "$kind" "$OUT/curl-chatgpt.pcap" "$OUT/curl-chatgpt-$kind.pcap"
done
python3 "$TOOLS/wrap.py" 6in4 "$OUT/curl-chatgpt-v6.pcap" "$OUT/curl-chatgpt-v6-6in4.pcap"
for kind in fragment geneve erspan3; do
  python3 "$TOOLS/wrap.py" "$kind" "$OUT/chromium-quic-gemini.pcap" "$OUT/chromium-quic-gemini-$kind.pcap"
done
# A file cut short in the middle of a packet (the upload), for the truncated-file error.
size=$(stat -c %s "$OUT/python-upload.pcap")
head -c $((size / 2 + 7)) "$OUT/python-upload.pcap" >"$OUT/python-upload-cut.pcap"

ls -l "$OUT"/*.pcap "$OUT"/*.pcapng
