#!/usr/bin/env python3
"""Python HTTP client libraries posting one OpenAI-style chat completion, for lantern's captures.

Usage: api_clients.py urllib|requests|httpx URL
Each POSTs {"model": "gpt-4o-mini", "messages": [...]} to URL (http or https; certificates are
not verified: the test server's is self-signed) with the library's own default headers
(User-Agent and all) and prints the status. The caller puts ?client=NAME on the URL."""
import json
import ssl
import sys

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello in French."}]}
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-test-not-a-real-key"}


def with_urllib(url):
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, data=json.dumps(BODY).encode(), headers=HEADERS, method="POST")
    with urllib.request.urlopen(request, context=context) as response:
        return response.status


def with_requests(url):
    import requests

    return requests.post(url, json=BODY, headers=HEADERS, verify=False).status_code


def with_httpx(url):
    import httpx

    with httpx.Client(verify=False) as client:
        return client.post(url, json=BODY, headers=HEADERS).status_code


def main():
    import warnings

    warnings.filterwarnings("ignore")
    library, url = sys.argv[1], sys.argv[2]
    print(library, {"urllib": with_urllib, "requests": with_requests, "httpx": with_httpx}[library](url))


if __name__ == "__main__":
    main()
