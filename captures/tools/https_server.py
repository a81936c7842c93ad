#!/usr/bin/env python3
"""Test servers for lantern's captures: HTTPS on :443 for any name (self-signed certificate),
plain HTTP on the model-server ports (11434 Ollama, 8000 vLLM, 8080 llama.cpp, 1234 LM Studio,
3000 for an ordinary web app, and 80 for a company LLM gateway), and a silent UDP sink on :443. Request bodies are read in full so uploads
produce real byte counts. A GET with `delay=SECONDS` in its query (at most 10) is answered that
much later, so that a client's connection is still open while other lookups happen.
Usage: https_server.py CERT KEY"""
import http.server
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse


PLAIN_PORTS = (11434, 8000, 8080, 1234, 3000, 80)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, body, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if "delay" in query:
            time.sleep(min(float(query["delay"][0]), 10.0))
        self._reply(b"<html><body><p>lantern test page</p></body></html>", "text/html")

    def do_POST(self):
        data = self._body()
        self._reply(json.dumps({"received": len(data), "response": "ok"}).encode(), "application/json")

    def log_message(self, *args):
        pass


def quic_sink():
    """Reads and drops UDP on :443, so that QUIC clients get no ICMP port-unreachable back (it
    would make Chromium stop after its first Initial packet) and keep sending Initials."""
    sink = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sink.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sink.bind(("::", 443))
    while True:
        sink.recv(65536)


class DualStack(http.server.ThreadingHTTPServer):
    """Listens on IPv6 and IPv4 alike."""

    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    cert, key = sys.argv[1], sys.argv[2]
    tls = DualStack(("::", 443), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    for port in PLAIN_PORTS:
        plain = DualStack(("::", port), Handler)
        threading.Thread(target=plain.serve_forever, daemon=True).start()
    threading.Thread(target=quic_sink, daemon=True).start()
    print("ready", flush=True)
    tls.serve_forever()


if __name__ == "__main__":
    main()
