#!/usr/bin/env python3
"""Encrypted DNS resolvers for lantern's captures: DNS over HTTPS (RFC 8484) and DNS over TLS
(RFC 7858), both with the test certificate, both passing each query unchanged to a plain
resolver (dnsmasq) and the answer unchanged back.

Usage: dns_servers.py CERT KEY DOH_ADDR:PORT DOT_ADDR:PORT RESOLVER_ADDR
  DoH  HTTP/1.1 over TLS: GET /dns-query?dns=<base64url message, unpadded> and POST /dns-query
       with Content-Type application/dns-message; the answer as application/dns-message with a
       Content-Length (keep-alive). The query goes to RESOLVER_ADDR:53 over UDP.
  DoT  TLS on its own port (853): messages prefixed by a two-byte length, several per connection;
       each goes to RESOLVER_ADDR:53 over TCP, with the same prefix.
Prints "ready" once both listen."""
import base64
import http.server
import socket
import socketserver
import ssl
import struct
import sys
import threading
import urllib.parse


def host_port(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


class DohHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    resolver = None

    def _answer(self, query):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(3)
            udp.sendto(query, (self.resolver, 53))
            answer = udp.recv(65535)
        self.send_response(200)
        self.send_header("Content-Type", "application/dns-message")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _refuse(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        dns = urllib.parse.parse_qs(url.query).get("dns")
        if url.path != "/dns-query" or not dns:
            return self._refuse(404 if url.path != "/dns-query" else 400)
        text = dns[0]
        self._answer(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/dns-query":
            return self._refuse(404)
        if self.headers.get("Content-Type") != "application/dns-message":
            return self._refuse(415)
        self._answer(body)

    def log_message(self, *args):
        pass


def read_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class DotHandler(socketserver.BaseRequestHandler):
    resolver = None

    def handle(self):
        with socket.create_connection((self.resolver, 53), timeout=3) as upstream:
            while True:
                head = read_exact(self.request, 2)
                if head is None:
                    return
                query = read_exact(self.request, struct.unpack("!H", head)[0])
                if query is None:
                    return
                upstream.sendall(head + query)
                head = read_exact(upstream, 2)
                answer = read_exact(upstream, struct.unpack("!H", head)[0])
                self.request.sendall(head + answer)


class TlsTcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, handler, context):
        self.context = context
        super().__init__(address, handler)

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True), address


def main():
    cert, key, doh, dot, resolver = sys.argv[1:6]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    DohHandler.resolver = DotHandler.resolver = resolver
    doh_server = http.server.ThreadingHTTPServer(host_port(doh), DohHandler)
    doh_server.socket = context.wrap_socket(doh_server.socket, server_side=True)
    dot_server = TlsTcpServer(host_port(dot), DotHandler, context)
    threading.Thread(target=dot_server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    doh_server.serve_forever()


if __name__ == "__main__":
    main()
