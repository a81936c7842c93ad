#!/usr/bin/env python3
"""Real Python clients for lantern's captures.

upload HOST SIZE SOURCE   POST SIZE bytes to https://HOST/v1/messages from address SOURCE
nosni HOST                resolve HOST, then TLS to its address without SNI, GET /
chat URL                  POST an OpenAI-style chat completion request to URL (plain HTTP)"""
import http.client
import json
import socket
import ssl
import sys
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


def chat(url):
    body = {"model": "llama3", "messages": [{"role": "user", "content": "Summarise our Q3 plan."}]}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        print(response.read().decode())


if __name__ == "__main__":
    {"upload": upload, "nosni": nosni, "chat": chat}[sys.argv[1]](*sys.argv[2:])
