import { makeCertificates } from "./tests/support/tls.ts";
import tls from "node:tls";
const c = await makeCertificates();
const cert = await Deno.readTextFile(c.cert), key = await Deno.readTextFile(c.key);
const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
let port: number;
if (Deno.args[0] === "serve") {
  const s = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    () => new Response("x"),
  );
  port = s.addr.port;
} else {
  const server = tls.createServer({ cert, key, handshakeTimeout: 500 }, (s) => s.end("x"));
  server.on("tlsClientError", (e) => console.log("tlsClientError", String(e)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as { port: number }).port;
}
console.log("fds", fds());
const socks = [];
for (let i = 0; i < 5; i++) socks.push(await Deno.connect({ hostname: "127.0.0.1", port }));
await new Promise((r) => setTimeout(r, 2500));
console.log("fds after", fds());
const r = await Promise.race([
  socks[0].read(new Uint8Array(10)),
  new Promise((r) => setTimeout(() => r("pending"), 1000)),
]);
console.log("client read", r);
Deno.exit(0);
