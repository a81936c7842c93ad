#!/usr/bin/env python3
"""RDATA of a DNS HTTPS record (type 65, RFC 9460) carrying an ECH configuration, as hex for
dnsmasq's --dns-rr=NAME,65,HEX.

Usage: ech_config.py PUBLIC_NAME

SvcPriority 1, TargetName "." (the owner's own addresses), then the SvcParams in ascending key
order: alpn (key 1: h2, http/1.1) and ech (key 5: an ECHConfigList with one ECHConfig, version
0xfe0d, RFC 9849 / draft-ietf-tls-esni-18). The HPKE suite is X25519 + HKDF-SHA256 + AES-128-GCM.
The X25519 key is derived from fixed bytes, so every run prints the same record; nobody holds
the matching private key on the server, so a client encrypts its inner ClientHello to it and the
server (which knows nothing of ECH) answers the outer one."""
import hashlib
import struct
import sys


def u8(n):
    return struct.pack("!B", n)


def u16(n):
    return struct.pack("!H", n)


def vec8(data):
    return u8(len(data)) + data


def vec16(data):
    return u16(len(data)) + data


def public_key():
    """A real X25519 public key from a fixed private key (cryptography if present; otherwise
    fixed bytes, which a client can encrypt to just as well)."""
    seed = hashlib.sha256(b"lantern test ECH key").digest()
    try:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    except ImportError:
        return hashlib.sha256(seed).digest()
    key = X25519PrivateKey.from_private_bytes(seed)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ech_config_list(public_name):
    contents = (
        u8(0x2A)  # config_id
        + u16(0x0020)  # kem_id: DHKEM(X25519, HKDF-SHA256)
        + vec16(public_key())
        + vec16(u16(0x0001) + u16(0x0001))  # cipher_suites: HKDF-SHA256, AES-128-GCM
        + u8(0)  # maximum_name_length
        + vec8(public_name.encode())
        + vec16(b"")  # extensions
    )
    config = u16(0xFE0D) + vec16(contents)
    return vec16(config)


def https_rdata(public_name):
    alpn = b"".join(vec8(p) for p in (b"h2", b"http/1.1"))
    params = u16(1) + vec16(alpn) + u16(5) + vec16(ech_config_list(public_name))
    return u16(1) + b"\x00" + params


if __name__ == "__main__":
    print(https_rdata(sys.argv[1]).hex())
