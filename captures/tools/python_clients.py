#!/usr/bin/env python3
"""Real Python clients for lantern's captures.

upload HOST SIZE SOURCE   POST SIZE bytes to https://HOST/v1/messages from address SOURCE
nosni HOST                resolve HOST, then TLS to its address without SNI, GET /
chat URL                  POST an OpenAI-style chat completion request to URL (plain HTTP)
relookup FIRST HOST OTHER resolve FIRST, then HOST, then TLS to HOST's address without SNI: one
                          request, then HOST and OTHER resolved again while the connection stays
                          open (about 3 s), then a second request on it and close
race HOST OTHER           resolve HOST, start a TCP connection to its address (the SYN leaves),
                          and while it is being set up resolve OTHER (on the same address); then
                          TLS without SNI on that connection, one GET (answered 1.5 s late)
                          and close
mcp-batch URL             one keep-alive HTTP/1.1 connection (http.client) to an MCP server's
                          streamable HTTP endpoint: initialize, notifications/initialized with the
                          session id it got, then a JSON-RPC batch of tools/list and tools/call
                          (protocol 2025-03-26, the last revision with batches)"""
import http.client
import json
import select
import socket
import ssl
import sys
import time
import urllib.parse
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


def race(host, other):
    address = socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setblocking(False)
    # A non-blocking connect returns once the SYN is sent: the other name is looked up (and its
    # answer, for the same address, arrives) while the connection is being set up, before any
    # TLS byte is sent on it.
    raw.connect_ex((address, 443))
    socket.getaddrinfo(other, 443, socket.AF_INET, socket.SOCK_STREAM)
    select.select([], [raw], [], 5)
    error = raw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        raise OSError(error, "connect failed")
    raw.setblocking(True)
    with unverified().wrap_socket(raw, server_hostname=None) as tls:
        # Answered 1.5 s late: the connection stays open past the next second of capture time,
        # so it ends well after both answers whatever second the capture starts in.
        tls.sendall(f"GET /?delay=1.5 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        while tls.recv(65536):
            pass


def mcp_batch(url):
    """Three POSTs on one http.client connection; each response is read in full (the SSE answer
    to initialize ends with the last chunk) so that the connection stays usable."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

    def post(message, extra=None):
        conn.request("POST", parts.path, body=json.dumps(message).encode(), headers={**headers, **(extra or {})})
        response = conn.getresponse()
        body = response.read()
        print(response.status, response.getheader("Content-Type"), body.decode(errors="replace"))
        return response

    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-03-26",
            "capabilities": {},
            "clientInfo": {"name": "lantern-keepalive-client", "version": "0.2.0"},
        },
    }
    session = {"mcp-session-id": post(initialize).getheader("mcp-session-id")}
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    post(
        [
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}},
        ],
        session,
    )
    conn.close()


def chat(url):
    body = {"model": "llama3", "messages": [{"role": "user", "content": "Summarise our Q3 plan."}]}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        print(response.read().decode())


if __name__ == "__main__":
    modes = {"upload": upload, "nosni": nosni, "chat": chat, "relookup": relookup, "race": race, "mcp-batch": mcp_batch}
    modes[sys.argv[1]](*sys.argv[2:])
