#!/usr/bin/env python3
"""Rewrite a little-endian classic pcap as big-endian (as a big-endian host's libpcap writes it):
the file header and every record header are byte-swapped, packet bytes are untouched.
Usage: pcap_swap.py IN OUT"""
import struct
import sys

with open(sys.argv[1], "rb") as f:
    data = f.read()
magic = data[:4]
if magic not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    sys.exit("input must be a little-endian classic pcap")
out = bytearray(struct.pack(">IHHiIII", *struct.unpack("<IHHiIII", data[:24])))
pos = 24
while pos + 16 <= len(data):
    sec, frac, caplen, origlen = struct.unpack("<IIII", data[pos:pos + 16])
    out += struct.pack(">IIII", sec, frac, caplen, origlen)
    out += data[pos + 16:pos + 16 + caplen]
    pos += 16 + caplen
with open(sys.argv[2], "wb") as f:
    f.write(out)
