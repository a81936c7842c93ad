#!/usr/bin/env python3
"""A real MCP client for lantern's captures, made with the reference Python SDK (`mcp` 2.3.0).

Usage: mcp_client.py streamable-http|sse URL [MODE]
It connects with the initialize handshake (MODE "legacy", the default: protocol 2025-11-25,
clientInfo lantern-capture-client 1.4.0) or with MODE "auto", the SDK's own default, which first
probes `server/discover` at protocol 2026-07-28 (a stateless request: no initialize, no
Mcp-Session-Id) and falls back to initialize only on a legacy server; then tools/list, tools/call search_docs {"query": "vpn"},
tools/call add {"a": 2, "b": 3}, resources/list, resources/read docs://handbook, prompts/list,
and closes (streamable HTTP ends its session with DELETE /mcp). For an https URL it does not
verify the certificate (the test server's is self-signed); otherwise the SDK's own HTTP client."""
import sys

import anyio
from mcp.client.client import Client
from mcp.client.sse import sse_client
from mcp_types import Implementation

CLIENT_INFO = Implementation(name="lantern-capture-client", version="1.4.0")


async def run(transport, url, mode):
    if url.startswith("https:"):
        import httpx2
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

        timeout = httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT)
        http = httpx2.AsyncClient(timeout=timeout, verify=False)
        server = streamable_http_client(url, http_client=http)
    else:
        server = url if transport == "streamable-http" else sse_client(url)
    async with Client(server, mode=mode, client_info=CLIENT_INFO) as client:
        tools = await client.list_tools()
        print("tools", [t.name for t in tools.tools])
        print("search_docs", await client.call_tool("search_docs", {"query": "vpn"}))
        print("add", await client.call_tool("add", {"a": 2, "b": 3}))
        resources = await client.list_resources()
        print("resources", [str(r.uri) for r in resources.resources])
        print("read", await client.read_resource("docs://handbook"))
        prompts = await client.list_prompts()
        print("prompts", [p.name for p in prompts.prompts])


def main():
    anyio.run(run, sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "legacy")


if __name__ == "__main__":
    main()
