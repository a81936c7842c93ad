#!/usr/bin/env python3
"""Wrap every frame of a real capture in an encapsulation, with scapy, keeping timestamps.

The kernel of the recording machine has VXLAN devices (make.sh uses one) but no GRE, GENEVE,
ERSPAN, IP-in-IP or MPLS devices, so those wrappings are made here from the captured frames.
The outer addresses belong to a mirror (192.0.2.1 -> 192.0.2.2); the inner frames are untouched.

Usage: wrap.py KIND IN OUT
KIND: gre, gre-key-seq, gretap, erspan1, erspan2, erspan3, geneve, vxlan-qinq, mpls, ipip,
      4in6, 6in4, pppoe, fragment
"""
import sys

from scapy.all import IP, IPv6, UDP, Ether, Dot1Q, Raw, fragment, rdpcap, wrpcap
from scapy.contrib.erspan import ERSPAN, ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE
from scapy.contrib.mpls import MPLS
from scapy.layers.l2 import GRE
from scapy.layers.ppp import PPP, PPPoE
from scapy.layers.vxlan import VXLAN

MIRROR = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
OUTER4 = dict(src="192.0.2.1", dst="192.0.2.2")
OUTER6 = dict(src="2001:db8::1", dst="2001:db8::2")


def inner_ip(frame):
    """The IP packet of an Ethernet frame (the frames here carry IP)."""
    return frame.payload


# Wrappings that carry an IP packet rather than a whole frame; other frames (ARP) pass as they are.
L3_KINDS = {"gre", "gre-key-seq", "mpls", "ipip", "4in6", "6in4", "pppoe"}


def wrap(kind, frame, i):
    if kind in L3_KINDS and not (IP in frame or IPv6 in frame):
        return frame
    ip = inner_ip(frame)
    outer = Ether(**MIRROR)
    if kind == "gre":
        return outer / IP(**OUTER4) / GRE(proto=0x0800 if ip.version == 4 else 0x86DD) / ip
    if kind == "gre-key-seq":
        gre = GRE(key_present=1, key=0x2A, seqnum_present=1, seqence_number=i,
                  proto=0x0800 if ip.version == 4 else 0x86DD)
        return outer / IP(**OUTER4) / gre / ip
    if kind == "gretap":
        return outer / IP(**OUTER4) / GRE(proto=0x6558) / frame
    if kind == "erspan1":
        return outer / IP(**OUTER4) / GRE(proto=0x88BE) / ERSPAN() / frame
    if kind == "erspan2":
        return outer / IP(**OUTER4) / GRE(seqnum_present=1, seqence_number=i, proto=0x88BE) / \
            ERSPAN_II(session_id=7) / frame
    if kind == "erspan3":
        return outer / IP(**OUTER4) / GRE(proto=0x22EB) / ERSPAN_III(session_id=7) / frame
    if kind == "geneve":
        return outer / IP(**OUTER4) / UDP(sport=40000 + i % 1000, dport=6081) / \
            GENEVE(vni=42, proto=0x6558) / frame
    if kind == "vxlan-qinq":
        tagged = Ether(src=frame.src, dst=frame.dst) / Dot1Q(vlan=100, type=0x8100) / \
            Dot1Q(vlan=200, type=frame.type) / frame.payload
        return outer / IP(**OUTER4) / UDP(sport=50000, dport=4789) / VXLAN(vni=42) / tagged
    if kind == "mpls":
        return Ether(type=0x8847, **MIRROR) / MPLS(label=100, s=0, ttl=64) / \
            MPLS(label=200, s=1, ttl=64) / ip
    if kind == "ipip":
        return outer / IP(proto=4, **OUTER4) / ip
    if kind == "4in6":
        return outer / IPv6(nh=4, **OUTER6) / ip
    if kind == "6in4":
        return outer / IP(proto=41, **OUTER4) / ip
    if kind == "pppoe":
        return Ether(type=0x8864, **MIRROR) / PPPoE(sessionid=0x1234) / \
            PPP(proto=0x0021 if ip.version == 4 else 0x0057) / ip
    raise SystemExit(f"unknown kind {kind}")


def main():
    kind, src, dst = sys.argv[1:4]
    out = []
    for i, frame in enumerate(rdpcap(src)):
        if kind == "fragment" and IP not in frame:
            out.append(frame)
            continue
        if kind == "fragment":
            # IPv4 datagrams over 600 bytes go out in fragments of at most 512 data bytes.
            pieces = fragment(frame[IP], fragsize=512) if IP in frame and len(frame[IP]) > 600 else [frame[IP]]
            for piece in pieces:
                p = Ether(src=frame.src, dst=frame.dst) / piece
                p.time = frame.time
                out.append(p)
            continue
        p = wrap(kind, frame, i)
        p.time = frame.time
        out.append(p)
    wrpcap(dst, out)


if __name__ == "__main__":
    main()
