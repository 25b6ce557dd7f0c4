// The own server's TLS port against clients that open connections and never finish a handshake,
// and the answers it ends a connection with.

import assert from "node:assert/strict";
import { serveHttp } from "@cache/http1/server";
import { silentLogger } from "@cache/log/log";
import { makeCertificates } from "../support/tls.ts";

const LIMITS = {
  hostname: "127.0.0.1",
  port: 0,
  maxConnections: 100,
  headerTimeoutMs: 1000,
  idleTimeoutMs: 1000,
  minBodyBytesPerSecond: 1000,
  log: silentLogger,
};

const descriptors = () => [...Deno.readDirSync("/proc/self/fd")].length;

/** Whether the server closed `conn`: a read that ends, not one still waiting after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const read = conn.read(new Uint8Array(16)).then((n) => n === null, () => true);
  const open = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms));
  return await Promise.race([read, open]);
}

Deno.test("serveHttp() on a TLS port lets go of connections whose handshake never comes", async () => {
  // Deno keeps a TLS socket whose handshake has not ended, closed or not: each client that sent
  // nothing kept a descriptor of the server's until it left, past the head timeout.
  const certs = await makeCertificates();
  const [cert, key, ca] = await Promise.all(
    [certs.cert, certs.key, certs.caCert].map((file) => Deno.readTextFile(file)),
  );
  const server = serveHttp(
    { ...LIMITS, headerTimeoutMs: 200, cert, key },
    () => new Response("ok"),
  );
  const client = Deno.createHttpClient({ caCerts: [ca] });
  const silent: Deno.Conn[] = [];
  try {
    const before = descriptors();
    for (let i = 0; i < 40; i++) {
      silent.push(await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    const closed = await Promise.all(silent.map((conn) => closedWithin(conn, 500)));
    assert.equal(closed.filter(Boolean).length, 40, "each silent client's socket was closed");
    // The 40 of the clients' side are this process's too; the server keeps none of its own.
    const kept = descriptors() - before - 40;
    assert.ok(kept <= 4, `${kept} descriptors kept`);
    const answer = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
    assert.equal(await answer.text(), "ok", "a client that shakes hands is served");
  } finally {
    for (const conn of silent) conn.close();
    client.close();
    await server.shutdown();
    await Deno.remove(certs.dir, { recursive: true });
  }
});

Deno.test("serveHttp() on a TLS port: a connection's last answer reaches its client whole", async () => {
  // The relay must not cut a connection the server closed after a handshake: the client takes
  // what was relayed before the end.
  const certs = await makeCertificates();
  const [cert, key, ca] = await Promise.all(
    [certs.cert, certs.key, certs.caCert].map((file) => Deno.readTextFile(file)),
  );
  const body = "x".repeat(256 * 1024);
  const server = serveHttp({ ...LIMITS, cert, key }, () => new Response(body));
  try {
    for (let i = 0; i < 20; i++) {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.addr.port,
        caCerts: [ca],
      });
      await conn.write(
        new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      );
      const answer = await new Response(conn.readable).text();
      assert.ok(answer.endsWith(body), `answer ${i}: ${answer.length} characters`);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(certs.dir, { recursive: true });
  }
});

Deno.test("serveHttp() on a TLS port answers a client that half-closed after its request", async () => {
  const certs = await makeCertificates();
  const [cert, key, ca] = await Promise.all(
    [certs.cert, certs.key, certs.caCert].map((file) => Deno.readTextFile(file)),
  );
  const tls = serveHttp({ ...LIMITS, cert, key }, () => new Response("ok"));
  try {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: tls.addr.port,
      caCerts: [ca],
    });
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await conn.closeWrite();
    const answer = await new Response(conn.readable).text().catch((error) => String(error));
    assert.match(answer, /^HTTP\/1.1 200 [^]*ok$/);
  } finally {
    await tls.shutdown();
    await Deno.remove(certs.dir, { recursive: true });
  }
});
