#!/usr/bin/env python3
"""The DNS-over-HTTPS hosts of a DNSCrypt resolver list (public-resolvers.md), for reviewing
encrypted_dns.toml (see encrypted_dns.md beside this file).

Usage: doh_stamps.py < public-resolvers.md

Prints one line per DoH stamp: the resolver's name (its `## ` heading), the host, the path and
the address the stamp gives. A DNS stamp is `sdns://` and base64url of: one byte of protocol
(0x02 is DoH), eight bytes of properties, then the length-prefixed address, the hashes (each
length byte has its top bit set while more follow), the host name (with any :port) and the path.
Stamps of other protocols (DNSCrypt, relays) name no DoH host and are skipped."""
import base64
import sys

DOH = 0x02


def doh_host(stamp):
    """(address, host, path) of a DoH stamp, or None for another protocol."""
    body = stamp.strip()[len("sdns://"):]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if raw[0] != DOH:
        return None
    at = 1 + 8

    def field():
        nonlocal at
        n = raw[at]
        value = raw[at + 1 : at + 1 + n]
        at += 1 + n
        return value.decode()

    address = field()
    while True:
        n = raw[at]
        at += 1 + (n & 0x7F)
        if not n & 0x80:
            break
    host = field()
    return address, host, field()


def main():
    name = ""
    for line in sys.stdin:
        if line.startswith("## "):
            name = line[3:].strip()
        elif line.startswith("sdns://"):
            hit = doh_host(line)
            if hit:
                address, host, path = hit
                print(f"{name}\t{host}\t{path}\t{address}")


if __name__ == "__main__":
    main()
