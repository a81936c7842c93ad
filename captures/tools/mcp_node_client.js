// A real MCP client in Node for lantern's captures, made with the reference TypeScript SDK
// (@modelcontextprotocol/sdk 1.32.2, found through NODE_PATH): initialize (clientInfo
// lantern-node-agent 0.9.0), tools/list, tools/call search_docs, resources/list, prompts/list,
// close. Usage: NODE_PATH=.../node_modules node mcp_node_client.js streamable-http|sse URL
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { SSEClientTransport } = require("@modelcontextprotocol/sdk/client/sse.js");

async function main() {
  const [kind, url] = process.argv.slice(2);
  const transport = kind === "sse" ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: "lantern-node-agent", version: "0.9.0" });
  await client.connect(transport);
  console.log("tools", (await client.listTools()).tools.map((t) => t.name));
  console.log("call", JSON.stringify(await client.callTool({ name: "search_docs", arguments: { query: "expenses" } })));
  console.log("resources", (await client.listResources()).resources.map((r) => r.uri));
  console.log("prompts", (await client.listPrompts()).prompts.map((p) => p.name));
  if (kind !== "sse") await transport.terminateSession();
  await client.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
