#!/usr/bin/env python3
"""Test servers for lantern's captures: HTTPS on :443 for any name (self-signed certificate) and
plain HTTP on :11434 answering like an Ollama server. Request bodies are read in full so uploads
produce real byte counts. Usage: https_server.py CERT KEY"""
import http.server
import json
import ssl
import sys
import threading


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
        self._reply(b"<html><body><p>lantern test page</p></body></html>", "text/html")

    def do_POST(self):
        data = self._body()
        self._reply(json.dumps({"received": len(data), "response": "ok"}).encode(), "application/json")

    def log_message(self, *args):
        pass


def main():
    cert, key = sys.argv[1], sys.argv[2]
    tls = http.server.ThreadingHTTPServer(("0.0.0.0", 443), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    plain = http.server.ThreadingHTTPServer(("0.0.0.0", 11434), Handler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    print("ready", flush=True)
    tls.serve_forever()


if __name__ == "__main__":
    main()
