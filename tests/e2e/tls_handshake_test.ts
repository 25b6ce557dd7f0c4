// The own server's TLS port: the answer it ends a connection with, and a client that half-closes.

import assert from "node:assert/strict";
import { serveHttp } from "@cache/http1/server";
import { LIMITS } from "../../shared/http1/test_support.ts";
import { makeCertificates } from "../support/tls.ts";

Deno.test("serveHttp() on a TLS port: a connection's last answer reaches its client whole", async () => {
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
