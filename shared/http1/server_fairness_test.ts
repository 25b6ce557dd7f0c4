// One connection's pipelined requests do not keep the server from reading the others.

import assert from "node:assert/strict";
import { serveHttp } from "./server.ts";
import { LIMITS } from "./test_support.ts";

const encoder = new TextEncoder();

Deno.test("serveHttp() answers another connection while one has many requests pipelined", async () => {
  const server = serveHttp(LIMITS, (request) => {
    if (new URL(request.url).pathname === "/slow") {
      const end = performance.now() + 3; // a request that takes the server 3 ms
      while (performance.now() < end);
    }
    return new Response("ok");
  });
  const PIPELINED = 300;
  const flood = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const one = "GET /slow HTTP/1.1\r\nhost: x\r\n\r\n";
    await flood.write(encoder.encode(one.repeat(PIPELINED)));
    let answered = 0; // of the pipelined requests, counted by their status lines
    const reading = (async () => {
      const buffer = new Uint8Array(65536);
      let text = "";
      while (answered < PIPELINED) {
        const n = await flood.read(buffer);
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
        const parts = text.split("HTTP/1.1 200");
        answered += parts.length - 1;
        text = parts.at(-1)!;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const answer = await fetch(`http://127.0.0.1:${server.addr.port}/fast`);
    assert.equal(await answer.text(), "ok");
    const before = answered;
    await reading;
    assert.equal(answered, PIPELINED);
    assert.ok(before < PIPELINED / 2, `answered after ${before} of ${PIPELINED} pipelined`);
  } finally {
    flood.close();
    await server.shutdown();
  }
});
