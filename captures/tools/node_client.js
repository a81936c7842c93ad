// A real Node.js client for lantern's captures: POST a JSON body to https://HOST/v1/chat/completions.
// Usage: node node_client.js HOST BYTES
const https = require("https");
const [host, bytes] = process.argv.slice(2);
const body = JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "y".repeat(Number(bytes)) }] });
const req = https.request(
  { host, port: 443, path: "/v1/chat/completions", method: "POST", family: 4, localAddress: "10.77.0.10",
    rejectUnauthorized: false, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
  (res) => { res.resume(); res.on("end", () => console.log("status", res.statusCode)); });
req.on("error", (e) => { console.error(e.message); process.exit(1); });
req.end(body);
