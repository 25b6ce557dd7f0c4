import assert from "node:assert/strict";
import { madeOf } from "./answer.ts";
import { type HttpServer, serveHttp, type ServerOptions } from "./server.ts";
import { LIMITS, raw } from "./test_support.ts";

const decoder = new TextDecoder();

/** A server on a free port echoing method, path and body; `options` override the limits. */
function echo(options: Partial<ServerOptions> = {}): HttpServer {
  return serveHttp({ ...LIMITS, ...options }, async (request) => {
    const body = request.body ? await request.text() : "";
    const path = new URL(request.url).pathname;
    return Response.json({ method: request.method, path, body });
  });
}

Deno.test("serveHttp() answers requests on one kept-alive connection, pipelined too", async () => {
  const server = echo();
  const client = await raw(server);
  try {
    await client.send(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
        "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
        "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
        '3\r\nabc\r\n2;ext=1 ; q = "a\\"b";flag\r\nde\r\n0\r\n\r\n' +
        "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const { text, closed } = await client.readAll();
    const bodies = [...text.matchAll(/\{[^}]*\}/g)].map((m) => JSON.parse(m[0]));
    assert.deepEqual(bodies, [
      { method: "GET", path: "/a", body: "" },
      { method: "POST", path: "/b", body: "hello" },
      { method: "POST", path: "/c", body: "abcde" },
      { method: "GET", path: "/d", body: "" },
    ]);
    assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 4);
    assert.ok(closed, "closed after Connection: close");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses the request-smuggling shapes with 4xx, closes, and tells", async () => {
  // Told, so that a service counts them: answered by no handler, they went uncounted.
  const refused: number[] = [];
  const server = echo({ refused: (status) => refused.push(status) });
  // Third: whether the server refuses it itself (false: the handler reading the body is refused,
  // and a service's app counts that answer).
  const cases: [string, RegExp, boolean?][] = [
    [
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      /400/,
    ],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", /400/],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc", /400/],
    ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", /501/],
    ["GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", /400/],
    ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", /505/],
    ["GET http://a@x/ HTTP/1.1\r\nHost: x\r\n\r\n", /400/],
    ["GET http:///live HTTP/1.1\r\nHost: x\r\n\r\n", /400/],
    ["GET ftp://x/live HTTP/1.1\r\nHost: x\r\n\r\n", /400/],
    // Only spaces and tabs are trimmed from a value: other blanks are the value's, and refused.
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \x0b3\r\n\r\nabc", /400/],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\xa0\r\n\r\nabc", /400/],
    ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0c\r\n\r\n", /400/],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\x0b3\r\nabc\r\n",
      /400/,
      false,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x\ny\r\nabc\r\n",
      /400/,
      false,
    ],
    ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /400/, false],
    // Chunk lines end in CRLF as head lines do: a bare LF is refused, not waited past.
    ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", /400/, false],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
      /400/,
      false,
    ],
    // Chunk extensions as RFC 9112 writes them, or refused: an open quote may read as more.
    [
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a="b\r\nabc\r\n',
      /400/,
      false,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;=b\r\nabc\r\n",
      /400/,
      false,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a b\r\nabc\r\n",
      /400/,
      false,
    ],
    // The Host must be a host and port: it is the start of the URL the request is routed by.
    ["GET /live HTTP/1.1\r\nHost: x/keys/a?\r\n\r\n", /400/],
    ["GET /live HTTP/1.1\r\nHost: a@x\r\n\r\n", /400/],
    ["GET /live HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", /400/],
    // Read first-only by a fast path, joined by a Headers: no second one.
    ["GET /live HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nauthorization: b\r\n\r\n", /400/],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n", /400/],
    ["POST / HTTP/1.1\r\nHost: x\r\nX-Ring-Epoch: 1\r\nX-Ring-Epoch: 2\r\n\r\n", /400/],
    ["GET /live HTTP/1.1\r\n\r\n", /400/],
    ["GET /keys/x\tz HTTP/1.1\r\nHost: x\r\n\r\n", /400/],
    ["GET /keys/x\x00z HTTP/1.1\r\nHost: x\r\n\r\n", /400/],
    ["POST /mset#x HTTP/1.1\r\nHost: x\r\n\r\n", /400/], // no fragment in a request
    ["GET /live HTTP/1.1\nHost: x\n\n", /400/],
    [`GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(70_000)}\r\n\r\n`, /431/],
  ];
  try {
    for (const [request, status, told = true] of cases) {
      const client = await raw(server);
      await client.send(request);
      const { text, closed } = await client.readAll();
      client.close();
      assert.match(text.split("\r\n")[0], status, request.slice(0, 60));
      assert.match(text, /\{"error":".+"\}$/);
      assert.ok(closed, `closed after ${request.slice(0, 40)}`);
      if (told) assert.match(String(refused.shift()), status, request.slice(0, 60));
      assert.deepEqual(refused, [], request.slice(0, 60));
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() closes a connection whose head, idleness or body takes too long", async () => {
  const server = echo({ headerTimeoutMs: 200, idleTimeoutMs: 300, minBodyBytesPerSecond: 1000 });
  try {
    const silent = await raw(server);
    const started = Date.now();
    assert.deepEqual(await silent.readAll(), { text: "", closed: true }, "nothing sent");
    assert.ok(Date.now() - started < 1000);
    silent.close();

    const partial = await raw(server);
    await partial.send("GET / HTTP/1.1\r\nHost: x\r\n");
    assert.deepEqual(await partial.readAll(), { text: "", closed: true }, "a head never ended");
    partial.close();

    const idle = await raw(server);
    await idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const kept = await idle.readAll(1500);
    assert.match(kept.text, /200 OK/);
    assert.ok(kept.closed, "closed once idle past the idle timeout");
    idle.close();

    const trickle = await raw(server);
    await trickle.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab");
    const cut = await trickle.readAll(2000);
    assert.ok(cut.closed, "a body far slower than 1000 B/s is cut off");
    trickle.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses connections past its cap with 503, and serves again after", async () => {
  const server = echo({ maxConnections: 5, headerTimeoutMs: 5000 });
  const held = await Promise.all(Array.from({ length: 5 }, () => raw(server)));
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(server.connections, 5);
    const extra = await raw(server);
    const { text, closed } = await extra.readAll();
    extra.close();
    assert.match(text, /^HTTP\/1\.1 503/);
    assert.match(text, /Too many open connections/);
    assert.ok(closed);
    for (const client of held) client.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answer = await fetch(`http://127.0.0.1:${server.addr.port}/again`);
    assert.deepEqual(await answer.json(), { method: "GET", path: "/again", body: "" });
  } finally {
    for (const client of held) client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 100 Continue, HEAD without a body, and a throwing handler with 500", async () => {
  const server = serveHttp({ ...LIMITS, maxConnections: 10 }, async (request) => {
    if (new URL(request.url).pathname === "/throw") throw new Error("boom");
    if (new URL(request.url).pathname === "/empty") return new Response(null, { status: 200 });
    return new Response(await request.text() || "body", { status: 201 });
  });
  const client = await raw(server);
  try {
    await client.send(
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    const first = await client.readAll(300);
    assert.match(first.text, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    await client.send("ok");
    assert.match(
      (await client.readAll(300)).text,
      /201 Created[\s\S]*content-length: 2\r\n\r\nok$/,
    );
    // A HEAD is its GET's answer without the body: the same length.
    await client.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match((await client.readAll(300)).text, /content-length: 4\r\n\r\n$/);
    await client.send("HEAD /empty HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match((await client.readAll(300)).text, /content-length: 0\r\n\r\n$/);
    // Refused, a HEAD's answer has no body either.
    const refused = await raw(server);
    await refused.send("HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
    const { text } = await refused.readAll(300);
    refused.close();
    assert.match(text, /^HTTP\/1\.1 400 [\s\S]*content-length: \d+\r\n\r\n$/);
    await client.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match((await client.readAll(300)).text, /^HTTP\/1\.1 500[\s\S]*Internal server error/);
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() reads a head and a chunked body that arrive in many small pieces", async () => {
  const server = echo();
  const client = await raw(server);
  try {
    const request = "POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
    for (let i = 0; i < request.length; i += 7) {
      await client.send(request.slice(i, i + 7));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { text } = await client.readAll(500);
    assert.match(text, /\{"method":"POST","path":"\/slow","body":"helloabc"\}$/);
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() reads a long body whole as it comes, and the request after it", async () => {
  const server = echo();
  const client = await raw(server);
  try {
    // Past the first 64 KiB buffer, arriving in pieces, with the next request in the last one.
    const body = "0123456789abcdef".repeat(20_000);
    const request =
      `POST /long HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      "GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (let i = 0; i < request.length; i += 50_000) {
      await client.send(request.slice(i, i + 50_000));
    }
    const { text, closed } = await client.readAll();
    const bodies = [...text.matchAll(/\{[^}]*\}/g)].map((m) => JSON.parse(m[0]));
    assert.deepEqual(bodies, [
      { method: "POST", path: "/long", body },
      { method: "GET", path: "/next", body: "" },
    ]);
    assert.ok(closed);
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() offers a request read whole to the early answer, then to the handler", async () => {
  const seen: (string | null | undefined)[][] = [];
  const server = serveHttp({
    ...LIMITS,
    early: (request) => {
      const body = request.wholeBody && decoder.decode(request.wholeBody);
      seen.push([request.method, request.headers.get("x-a"), body]);
      return body === "early"
        ? { status: 200, contentType: "text/plain", body: "answered" }
        : undefined;
    },
  }, async (request) => new Response(`handler got ${await request.text()}`));
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    const post = (body: string) => fetch(url, { method: "POST", headers: { "x-a": "1" }, body });
    assert.equal(await (await post("early")).text(), "answered");
    assert.equal(await (await post("late")).text(), "handler got late");
    assert.equal(await (await fetch(url)).text(), "handler got ");
    assert.deepEqual(seen, [["POST", "1", "early"], ["POST", "1", "late"], [
      "GET",
      null,
      undefined,
    ]]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() refuses a Host no URL takes before an early answer is made", async () => {
  // The handler refused it when it built the request's URL; an early answer builds none, and
  // served it.
  const server = serveHttp({
    ...LIMITS,
    early: () => ({ status: 200, contentType: "text/plain", body: "early" }),
  }, () => new Response("handler"));
  try {
    for (const host of ["[1:2]", "999.1.1.1"]) {
      const client = await raw(server);
      await client.send(`GET /live HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const { text } = await client.readAll();
      client.close();
      assert.match(text, /^HTTP\/1\.1 400 [\s\S]*Malformed Host header/, host);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() reuses body buffers only once their request is answered", async () => {
  // Concurrent long bodies, each read by an answer that waits first: a buffer handed to another
  // request too soon would show in the answer.
  const server = serveHttp({
    ...LIMITS,
    early: async (request) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10)); // out of step
      const body = request.wholeBody ? decoder.decode(request.wholeBody) : "";
      return { status: 200, contentType: "text/plain", body: `${body.length}:${body.slice(-8)}` };
    },
  }, () => new Response("not early"));
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    await Promise.all(Array.from({ length: 8 }, async (_, client) => {
      for (let i = 0; i < 20; i++) {
        const tail = `c${client}r${String(i).padStart(5, "0")}`; // 8 characters
        const body = String(client).repeat(70_000 + 1000 * i) + tail;
        const answer = await fetch(url, { method: "POST", body });
        assert.equal(await answer.text(), `${body.length}:${tail}`);
      }
    }));
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() writes an early answer from its parts, a Response's remembered parts too", async () => {
  const body = new TextEncoder().encode('{"from":"parts"}');
  const server = serveHttp({
    ...LIMITS,
    maxConnections: 10,
    early: (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/wire") {
        return {
          status: 200,
          contentType: "application/json",
          body: '{"é":1}',
          headers: { "x-a": "1" },
        };
      }
      if (path === "/made") {
        // The Response says otherwise: what was remembered is what goes out.
        return madeOf(new Response("unread"), {
          status: 201,
          contentType: "application/json",
          body,
        });
      }
      return undefined;
    },
  }, () => new Response("from the handler"));
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    const wire = await fetch(`${url}/wire`);
    assert.equal(wire.headers.get("x-a"), "1");
    assert.equal(wire.headers.get("content-length"), "8", "UTF-8 bytes, not characters");
    assert.deepEqual(await wire.json(), { é: 1 });
    const made = await fetch(`${url}/made`);
    assert.equal(made.status, 201);
    assert.deepEqual(await made.json(), { from: "parts" });
    assert.equal(await (await fetch(`${url}/other`)).text(), "from the handler");
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() closes a connection whose client does not read its answer", async () => {
  const big = new Uint8Array(32 * 1024 * 1024); // far more than the socket buffers hold
  const server = serveHttp({ ...LIMITS, idleTimeoutMs: 300 }, () => new Response(big));
  const client = await raw(server);
  try {
    await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); // and never reads a byte
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(server.connections, 1, "writing the answer");
    const end = Date.now() + 3000;
    while (server.connections > 0 && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(server.connections, 0, "closed once the write waited past the idle timeout");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers a request whose body it never asked for, and stays served", async () => {
  // The handler never reads the body: a client waiting for 100 Continue gets the answer and the
  // connection closes; nothing the client sends after can stall the server.
  const server = serveHttp(
    { ...LIMITS, maxConnections: 10 },
    () => new Response("no", { status: 404 }),
  );
  const client = await raw(server);
  try {
    await client.send(
      "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.send("12345");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.send("67890GET /keys/a HTTP/1.1\r\nHost: x\r\n\r\n").catch(() => {});
    const { text, closed } = await client.readAll(1500);
    assert.doesNotMatch(text, /100 Continue/);
    assert.match(text, /^HTTP\/1\.1 404/);
    assert.ok(closed, "closed: the body it did not ask for is not read");
    const after = await fetch(`http://127.0.0.1:${server.addr.port}/live`);
    assert.equal(after.status, 404, "the server still answers");
    await after.body?.cancel();
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() shutdown() waits for a body that trickles only as long as it is given", async () => {
  // Fast bytes first buy a slow body time: 64 KiB at once, then a byte now and then, keeps above
  // the minimum rate for a minute.
  const server = echo({ minBodyBytesPerSecond: 1000 });
  const trickle = await raw(server);
  let sending = true;
  try {
    await trickle.send(
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n${"a".repeat(65_536)}`,
    );
    (async () => {
      while (sending) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await trickle.send("a").catch(() => sending = false);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ended = await Promise.race([
      server.shutdown(300).then(() => "shut down"),
      new Promise((resolve) => setTimeout(() => resolve("still waiting after 5 s"), 5000)),
    ]);
    assert.equal(ended, "shut down");
    assert.equal(server.connections, 0, "the trickling connection is closed");
  } finally {
    sending = false;
    trickle.close();
    await server.shutdown(0);
  }
});
