#!/usr/bin/env python3
"""Real Python clients for lantern's captures.

upload HOST SIZE SOURCE   POST SIZE bytes to https://HOST/v1/messages from address SOURCE
nosni HOST                resolve HOST, then TLS to its address without SNI, GET /
chat URL                  POST an OpenAI-style chat completion request to URL (plain HTTP)
relookup FIRST HOST OTHER resolve FIRST, then HOST, then TLS to HOST's address without SNI: one
                          request, then HOST and OTHER resolved again while the connection stays
                          open (about 3 s), then a second request on it and close"""
import http.client
import json
import socket
import ssl
import sys
import time
import urllib.request


def unverified():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def upload(host, size, source):
    conn = http.client.HTTPSConnection(host, 443, context=unverified(), source_address=(source, 0))
    conn.request("POST", "/v1/messages", body=b"x" * int(size), headers={"Content-Type": "application/json"})
    print(conn.getresponse().read().decode())
    conn.close()


def nosni(host):
    address = socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    with socket.create_connection((address, 443)) as raw:
        with unverified().wrap_socket(raw, server_hostname=None) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            while tls.recv(65536):
                pass


def lookup(host):
    """getaddrinfo as an application that does not pin the family calls it (A and AAAA
    queries); the first IPv4 address."""
    infos = socket.getaddrinfo(host, 443, socket.AF_UNSPEC, socket.SOCK_STREAM)
    return next(info[4][0] for info in infos if info[0] == socket.AF_INET)


def read_response(tls):
    """One HTTP/1.1 response with a Content-Length, read in full."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += tls.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += tls.recv(65536)


def relookup(first, host, other):
    lookup(first)
    address = lookup(host)
    with socket.create_connection((address, 443)) as raw:
        with unverified().wrap_socket(raw, server_hostname=None) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            read_response(tls)
            # The connection stays open while the same name and then another name on the same
            # address are looked up again.
            time.sleep(1)
            lookup(host)
            time.sleep(0.5)
            lookup(other)
            time.sleep(1.5)
            tls.sendall(f"GET /more HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            while tls.recv(65536):
                pass


def chat(url):
    body = {"model": "llama3", "messages": [{"role": "user", "content": "Summarise our Q3 plan."}]}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        print(response.read().decode())


if __name__ == "__main__":
    {"upload": upload, "nosni": nosni, "chat": chat, "relookup": relookup}[sys.argv[1]](*sys.argv[2:])
