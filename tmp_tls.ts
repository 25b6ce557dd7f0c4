import { makeCertificates } from "./tests/support/tls.ts";
const c = await makeCertificates();
const mode = Deno.args[0] ?? "close";
const listener = Deno.listenTls({
  hostname: "127.0.0.1",
  port: 0,
  cert: await Deno.readTextFile(c.cert),
  key: await Deno.readTextFile(c.key),
});
const port = (listener.addr as Deno.NetAddr).port;
const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
console.log("port", port, "fds", fds());
(async () => {
  for await (const conn of listener) {
    (async () => {
      const hs = conn.handshake();
      const t = new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), 500));
      try {
        await Promise.race([hs, t]);
      } catch (e) {
        console.log("handshake", String(e));
        if (mode === "read") {
          const r = conn.read(new Uint8Array(1));
          conn.close();
          await r.catch((e) => console.log("read", String(e)));
        } else if (mode === "closewrite") {
          await conn.closeWrite().catch((e) => console.log("cw", String(e)));
          conn.close();
        } else conn.close();
        hs.catch((e) => console.log("hs after close", String(e)));
      }
    })();
  }
})();
const socks = [];
for (let i = 0; i < 5; i++) socks.push(await Deno.connect({ hostname: "127.0.0.1", port }));
await new Promise((r) => setTimeout(r, 1500));
console.log("fds after close", fds());
const buf = new Uint8Array(10);
const r = await Promise.race([
  socks[0].read(buf),
  new Promise((r) => setTimeout(() => r("pending"), 1000)),
]);
console.log("client read", r);
Deno.exit(0);
