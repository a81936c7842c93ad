#!/usr/bin/env bash
# Real client traffic across the namespaces net.sh made: curl, Python and openssl TLS clients
# to the AI names (resolved by the dnsmasq in lt-TAG-s), a TLS connection without SNI that only
# the DNS answer names, a lookup of a name not in the catalog, then tcpreplay of
# captures/identity.pcap (DHCP, Kerberos, and the flows they attribute) into the link.
#
#   traffic.sh TAG N
set -euo pipefail
tag=$1 n=$2
C=lt-$tag-c
here=$(cd "$(dirname "$0")" && pwd)
tools=$here/../../captures/tools
in_c() { ip netns exec $C "$@"; }

in_c curl -sk --max-time 5 -o /dev/null https://chatgpt.com/
in_c python3 "$tools/python_clients.py" upload api.openai.com 200000 10.6$n.0.1 >/dev/null
in_c openssl s_client -connect claude.ai:443 -servername claude.ai </dev/null >/dev/null 2>&1
in_c python3 "$tools/python_clients.py" nosni gemini.google.com >/dev/null
in_c dig +short +tries=1 newtool.ai >/dev/null
in_c tcpreplay -q --pps 500 -i ${tag}c "$here/../../captures/identity.pcap" >/dev/null 2>&1
