// Node's two HTTP clients posting one OpenAI-style chat completion, for lantern's captures.
// Usage: node api_client_node.js fetch|https URL   (fetch is undici, built into Node 20; https is
// the https/http module). Certificates are not verified (the test server's is self-signed).
const [kind, url] = process.argv.slice(2);
const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello in French." }] });
const headers = { "Content-Type": "application/json", Authorization: "Bearer sk-test-not-a-real-key" };

if (kind === "fetch") {
  // undici's fetch has no per-request TLS option; this is how scripts skip verification.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  fetch(url, { method: "POST", headers, body })
    .then(async (res) => { await res.text(); console.log("fetch", res.status); })
    .catch((e) => { console.error(e); process.exit(1); });
} else {
  const target = new URL(url);
  const lib = target.protocol === "https:" ? require("https") : require("http");
  const req = lib.request(target, { method: "POST", rejectUnauthorized: false,
    headers: { ...headers, "Content-Length": Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on("end", () => console.log("https", res.statusCode)); });
  req.on("error", (e) => { console.error(e.message); process.exit(1); });
  req.end(body);
}
