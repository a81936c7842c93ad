#!/usr/bin/env python3
"""A real MCP server for lantern's captures, made with the reference Python SDK (`mcp` 2.3.0,
whose MCPServer is v1's FastMCP renamed): two tools (`add`, `search_docs`), one resource
(`docs://handbook`) and one prompt (`summarize`).

Usage: mcp_server.py streamable-http|sse PORT [CERT KEY]
  streamable-http  POST/GET/DELETE /mcp (stateful: the server hands out an Mcp-Session-Id)
  sse              the older transport: GET /sse (text/event-stream), POST /messages/?session_id=
With CERT and KEY it serves HTTPS (uvicorn's TLS) instead of plain HTTP.
It listens on every address (no DNS-rebinding host check, which the SDK turns on only for a
server bound to localhost)."""
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("corp-docs", version="0.3.1", instructions="Search the company handbook.")

HANDBOOK = {
    "vpn": "Connect with the corp VPN profile before reaching internal hosts.",
    "expenses": "Submit expenses within 30 days in the finance portal.",
}


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def search_docs(query: str, limit: int = 3) -> list[str]:
    """Search the company handbook."""
    hits = [text for key, text in HANDBOOK.items() if query.lower() in key or query.lower() in text.lower()]
    return hits[:limit]


@server.resource("docs://handbook", mime_type="text/plain")
def handbook() -> str:
    """The whole company handbook."""
    return "\n".join(HANDBOOK.values())


@server.prompt()
def summarize(topic: str) -> str:
    """Ask the model to summarize a handbook topic."""
    return f"Summarize the handbook section on {topic} in three bullet points."


def main():
    transport, port = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    if len(sys.argv) > 4:
        import uvicorn

        app = server.streamable_http_app(host="0.0.0.0") if transport == "streamable-http" else server.sse_app(host="0.0.0.0")
        uvicorn.run(app, host="0.0.0.0", port=port, ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4])
    else:
        server.run(transport, host="0.0.0.0", port=port)


if __name__ == "__main__":
    main()
