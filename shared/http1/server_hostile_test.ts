// One client does not hold the server: its pipelined requests leave the other connections a
// turn, and a body it stops sending does not keep its connection open on the credit of bytes sent.

import assert from "node:assert/strict";
import { type HttpServer, serveHttp } from "./server.ts";
import { LIMITS, raw } from "./test_support.ts";

const encoder = new TextEncoder();

/** A server answering "ok" to every request, which it records in `calls` as `record` says. */
function recording(record: (request: Request) => string) {
  const calls: string[] = [];
  const server = serveHttp(LIMITS, (request) => {
    calls.push(record(request));
    return new Response("ok");
  });
  return { server, calls };
}

/** Sends `request` on a new connection and reads what comes until the server closes it. */
async function untilClosed(server: HttpServer, request: string): Promise<string> {
  const client = await raw(server);
  try {
    await client.send(request);
    const { text, closed } = await client.readAll();
    assert.ok(closed, `the server kept the connection open after ${JSON.stringify(text)}`);
    return text;
  } finally {
    client.close();
  }
}

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

for (const streamed of [false, true]) {
  const what = streamed ? "streamed (chunked)" : "read whole";
  Deno.test(`serveHttp() closes a connection whose ${what} body stops, however much came`, async () => {
    const server = serveHttp(LIMITS, async (request) => {
      await request.arrayBuffer().catch(() => {});
      return new Response("ok");
    });
    const client = await raw(server);
    try {
      // 100,000 bytes at once: at the minimum 1,000 bytes a second they earn 100 s of waiting.
      const sent = 100_000;
      const framing = streamed
        ? `transfer-encoding: chunked\r\n\r\n${sent.toString(16)}\r\n`
        : `content-length: ${2 * sent}\r\n\r\n`;
      await client.send(`POST /keys HTTP/1.1\r\nhost: x\r\n${framing}`);
      await client.send(new Uint8Array(sent).fill(0x61));
      const started = performance.now();
      const { closed } = await client.readAll(5000);
      assert.ok(closed, "still open 5 s after the body stopped");
      // A head timeout (1 s here) after the last byte, not the 100 s the bytes earned.
      console.log(`  closed ${Math.round(performance.now() - started)} ms after the body stopped`);
    } finally {
      client.close();
      await server.shutdown();
    }
  });
}

Deno.test("serveHttp() refuses methods in lower case, and those a Request cannot carry, with 501", async () => {
  const { server, calls } = recording((request) => request.method);
  try {
    for (const method of ["delete", "post", "Get", "TRACE", "CONNECT"]) {
      const request = `${method} /keys HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n`;
      const text = await untilClosed(server, request);
      assert.match(text, /^HTTP\/1.1 501 /, method);
      assert.match(text, /is not implemented/);
    }
    assert.deepEqual(calls, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses malformed trailers, and takes no request for one", async () => {
  const calls: string[] = [];
  const server = serveHttp(LIMITS, async (request) => {
    const body = await request.text().catch((error) => `refused: ${error.message}`);
    calls.push(`${request.method} ${new URL(request.url).pathname} ${body}`);
    return new Response(body.startsWith("refused") ? "no" : "ok", {
      status: body.startsWith("refused") ? 400 : 200,
    });
  });
  try {
    const chunked =
      "POST /keys HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n";
    const smuggled = "GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n";
    for (const trailers of ["X: 1\n\r\n", "no colon\r\n\r\n", "X: a\0b\r\n\r\n"]) {
      calls.length = 0;
      const text = await untilClosed(server, chunked + trailers + smuggled + smuggled);
      assert.match(text, /^HTTP\/1.1 400 /, JSON.stringify(trailers));
      assert.ok(!calls.some((call) => call.includes("smuggled")), "the connection closed first");
    }
    // Well-formed trailers are read and dropped, and the next request is served.
    const last = smuggled.replace("\r\n\r\n", "\r\nconnection: close\r\n\r\n");
    const text = await untilClosed(server, chunked + "X-Sum: 1\r\n\r\n" + last);
    assert.equal((text.match(/HTTP\/1.1 200/g) ?? []).length, 2);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() takes any obs-text in a header value, the bytes of a UTF-8 dash too", async () => {
  const server = serveHttp(
    LIMITS,
    (request) => new Response(request.headers.has("x-note") ? "ok" : "no"),
  );
  try {
    const head = "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n" +
      "x-note: a \u2014 \u20ac \u00e9\r\n\r\n";
    const text = await untilClosed(server, head);
    assert.match(text, /^HTTP\/1.1 200 /);
    assert.match(text, /ok$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses a chunked HTTP/1.0 request, and closes", async () => {
  const { server, calls } = recording((request) => request.url);
  try {
    const request = "POST /keys HTTP/1.0\r\nconnection: keep-alive\r\n" +
      "transfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nGET /next HTTP/1.0\r\n\r\n";
    const text = await untilClosed(server, request);
    assert.match(text, /^HTTP\/1.1 400 /);
    assert.match(text, /HTTP\/1.0 request cannot have a Transfer-Encoding/);
    assert.deepEqual(calls, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() sends no 100 Continue to an HTTP/1.0 client", async () => {
  const server = serveHttp(LIMITS, async (request) => new Response(await request.text()));
  try {
    const request = "POST /x HTTP/1.0\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\nhi";
    const text = await untilClosed(server, request);
    assert.doesNotMatch(text, /100 Continue/);
    assert.match(text, /^HTTP\/1.1 200 /);
    assert.match(text, /hi$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses a Host no URL takes, before any handler", async () => {
  const { server, calls } = recording((request) => request.url);
  try {
    for (const host of ["%zz", "x:99999", "x:65536", "a%41"]) {
      const text = await untilClosed(server, `GET / HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
      assert.match(text, /^HTTP\/1.1 400 /, host);
      assert.match(text, /Malformed Host header/);
    }
    const text = await untilClosed(
      server,
      "GET / HTTP/1.1\r\nhost: x:65535\r\nconnection: close\r\n\r\n",
    );
    assert.match(text, /^HTTP\/1.1 200 /);
    assert.deepEqual(calls, ["http://x:65535/"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses a TLS hello on its plain port at once, not at the head timeout", async () => {
  // A head timeout longer than the test reads: only an answer at once passes.
  const server = serveHttp({ ...LIMITS, headerTimeoutMs: 60_000 }, () => new Response("ok"));
  const client = await raw(server);
  try {
    // The start of a TLS 1.2 ClientHello record: a handshake (0x16), then its version.
    await client.send(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]));
    const { text, closed } = await client.readAll(3000);
    assert.match(text, /^HTTP\/1.1 400 /);
    assert.ok(closed);
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() tells a client that half-closed within its body why, before closing", async () => {
  const { server, calls } = recording((request) => request.url);
  const client = await raw(server);
  try {
    await client.send("POST /keys HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    await client.closeWrite();
    const { text, closed } = await client.readAll();
    assert.match(text, /^HTTP\/1.1 400 /);
    assert.match(text, /ended before its Content-Length, 10 bytes/);
    assert.ok(closed);
    assert.deepEqual(calls, [], "no handler ran");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() takes an absolute-form target, its host standing for the Host header", async () => {
  const { server, calls } = recording((request) => `${request.url} ${request.headers.get("host")}`);
  try {
    for (const target of ["http://y:81/keys/a?b=1", "HTTPS://y:81?b=1", "http://y:81"]) {
      const request = `GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`;
      assert.match(await untilClosed(server, request), /^HTTP\/1.1 200 /, target);
    }
    assert.deepEqual(calls, [
      "http://y:81/keys/a?b=1 y:81",
      "http://y:81/?b=1 y:81",
      "http://y:81/ y:81",
    ]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() skips an empty line before a request line, as RFC 9112 2.2 asks", async () => {
  const { server, calls } = recording((request) => `${request.method} ${request.url}`);
  try {
    // A line break sent after a body by an old client, then its next request; and one alone.
    const request = "POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\nb\r\n" +
      "GET /b HTTP/1.1\r\nhost: x\r\n\r\n\r\nGET /c HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    const text = await untilClosed(server, request);
    assert.equal(text.match(/HTTP\/1.1 200 /g)?.length, 3, text);
    assert.deepEqual(calls, ["POST http://x/a", "GET http://x/b", "GET http://x/c"]);
    const alone = await raw(server);
    await alone.send("\r\n");
    await new Promise((resolve) => setTimeout(resolve, 20));
    await alone.send("GET /d HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert.match((await alone.readAll()).text, /^HTTP\/1.1 200 /);
    alone.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses reads while clients leave their answers unread, not writes", async () => {
  // Clients that asked for large answers and read none held them all: 40 held a node at 1.2 GB.
  const big = new Uint8Array(32 * 1024 * 1024); // more than the socket's buffers take
  let built = 0;
  const told: number[] = []; // refusals no handler counted, for the service's request counters
  const server = serveHttp(
    {
      ...LIMITS,
      idleTimeoutMs: 60_000,
      maxUnsentBytes: 48 * 1024 * 1024,
      refused: (status) => told.push(status),
    },
    (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/big") built++;
      return path === "/big" ? new Response(big) : Response.json({ path });
    },
  );
  const port = server.addr.port;
  // All at once: each answer is counted as it is made, so the ones after the budget are refused.
  const hogs = await Promise.all(Array.from({ length: 6 }, () => raw(server)));
  try {
    await Promise.all(hogs.map((hog) => hog.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")));
    await new Promise((resolve) => setTimeout(resolve, 300)); // each answer stuck in its write
    const refused = await fetch(`http://127.0.0.1:${port}/small`);
    assert.equal(refused.status, 503);
    assert.match((await refused.json()).error, /MB of answers wait for clients to read them/);
    const before = built;
    const another = await fetch(`http://127.0.0.1:${port}/big`);
    assert.equal(another.status, 503);
    await another.body?.cancel();
    assert.equal(built, before, "refused before it was made: no CPU spent on it");
    for (const path of ["/live", "/ready", "/ring"]) {
      const probe = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(probe.status, 200, `${path} is still answered`);
      await probe.body?.cancel();
    }
    const write = await fetch(`http://127.0.0.1:${port}/keys`, { method: "POST", body: "{}" });
    assert.equal(write.status, 200, "a write answers little: it goes on");
    await write.body?.cancel();
    // Those that came together were all made (a known limit), but one alone held.
    assert.ok(built <= 6);
    const statuses = [];
    for (const hog of hogs) statuses.push((await hog.readAll(300)).text.slice(9, 12));
    assert.deepEqual(statuses.sort(), ["200", "503", "503", "503", "503", "503"]);
    // Told of the reads refused before a handler made them, not of those made, then refused: each
    // request is counted once.
    assert.deepEqual(told, Array(2 + 6 - built).fill(503), `${built} made`);
    for (const hog of hogs) hog.close();
    await new Promise((resolve) => setTimeout(resolve, 300)); // their writes fail, and end
    const served = await fetch(`http://127.0.0.1:${port}/small`);
    assert.equal(served.status, 200);
    assert.deepEqual(await served.json(), { path: "/small" });
  } finally {
    for (const hog of hogs) hog.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() knows an /mget past the budget however its path is written", async () => {
  const big = new Uint8Array(40 * 1024 * 1024); // past half the budget, held until read
  const made: string[] = [];
  const server = serveHttp(
    { ...LIMITS, idleTimeoutMs: 60_000, maxUnsentBytes: 48 * 1024 * 1024 },
    (request) => {
      const path = new URL(request.url).pathname;
      made.push(path);
      return path === "/big" ? new Response(big) : Response.json({ path });
    },
  );
  const hog = await raw(server);
  try {
    await hog.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, 200)); // stuck in its write
    // `/./mget` and `/%6Dget` are `/mget` to the routers: 30 of them were made, 1.5 GB.
    for (const target of ["/./mget", "/%6Dget", "/x/../mget"]) {
      const client = await raw(server);
      await client.send(`POST ${target} HTTP/1.1\r\nHost: x\r\ncontent-length: 2\r\n\r\n{}`);
      assert.match((await client.readAll(1000)).text, /^HTTP\/1.1 503 /, target);
      client.close();
    }
    assert.deepEqual(made, ["/big"]);
  } finally {
    hog.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() closes a connection that takes none of its answer while reads wait", async () => {
  const big = new Uint8Array(40 * 1024 * 1024); // past half the budget
  const server = serveHttp(
    { ...LIMITS, idleTimeoutMs: 60_000, maxUnsentBytes: 48 * 1024 * 1024 },
    (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/big") return new Response(big);
      return path === "/medium" ? new Response(big.subarray(0, 1 << 20)) : Response.json({ path });
    },
  );
  const port = server.addr.port;
  const hog = await raw(server);
  const quiet = await raw(server);
  try {
    // A 1 MB answer left unread, taken whole by the socket's buffers: nothing held, it stays.
    await quiet.send("GET /medium HTTP/1.1\r\nHost: x\r\n\r\n");
    // Reads refused while the hog's answer holds the budget, until it is closed.
    const started = performance.now();
    await hog.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    let refused = 0;
    for (;;) {
      const answer = await fetch(`http://127.0.0.1:${port}/small`);
      await answer.body?.cancel();
      if (answer.status === 200) break;
      assert.equal(answer.status, 503);
      refused++;
    }
    const waited = performance.now() - started;
    assert.ok(refused >= 1, "refused while the answer was held");
    assert.ok(waited < 10_000, `served again after ${waited} ms, not the idle timeout`);
    const { closed } = await hog.readAll(1000);
    assert.ok(closed, "the hog's connection is closed");
    const quietly = await quiet.readAll(300);
    assert.match(quietly.text, /^HTTP\/1.1 200 /);
    assert.equal(quietly.closed, false, "an answer the socket took whole holds nothing: it stays");
  } finally {
    hog.close();
    quiet.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() tells an HTTP/1.0 client it kept alive that it did, early answers too", async () => {
  // Kept open without saying so, as HTTP/1.0 has a client expect it closed.
  const server = serveHttp(
    {
      ...LIMITS,
      early: (request) =>
        new URL(request.url).pathname === "/early" ? { status: 204, body: "" } : undefined,
    },
    () => new Response("ok"),
  );
  try {
    const text = await untilClosed(
      server,
      "GET /a HTTP/1.0\r\nconnection: keep-alive\r\n\r\n" +
        "GET /early HTTP/1.0\r\nconnection: keep-alive\r\n\r\n" +
        "GET /b HTTP/1.0\r\n\r\n",
    );
    const heads = text.split(/\r\n\r\n/).filter((part) => part.includes("HTTP/1.1"));
    assert.equal(heads.length, 3, text);
    assert.match(heads[0], /^HTTP\/1.1 200 [^]*\r\nconnection: keep-alive\r\n/);
    assert.match(heads[1], /HTTP\/1.1 204 [^]*\r\nconnection: keep-alive$/);
    assert.match(heads[2], /HTTP\/1.1 200 [^]*\r\nconnection: close\r\n/);
  } finally {
    await server.shutdown();
  }
});
