import assert from "node:assert/strict";
import { http1Client, http1Fetch } from "./client.ts";
import { rawServer } from "./test_support.ts";

const write = (conn: Deno.Conn, text: string) => conn.write(new TextEncoder().encode(text));

/** A Deno.serve on 127.0.0.1 answering with `answer`, noting the port of each connection served. */
function countingServer(answer: (request: Request) => Response | Promise<Response>) {
  const peers = new Set<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => {
      peers.add(info.remoteAddr.port);
      return answer(request);
    },
  );
  return { server, peers, origin: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test("http1Fetch() reuses one connection for many calls, bodies and headers intact", async () => {
  const { server, peers, origin: url } = countingServer(async (request) => {
    const token = request.headers.get("x-token");
    return Response.json({ method: request.method, body: await request.text(), token });
  });
  const call = http1Fetch();
  try {
    // Far more calls than fit the read buffer, so its unread bytes are moved many times.
    for (let i = 0; i < 500; i++) {
      const answer = await call(`${url}/echo?i=${i}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-token": `t${i}` },
        body: JSON.stringify({ i, text: "é".repeat(i % 50) }),
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("content-type"), "application/json");
      const echoed = await answer.json();
      assert.deepEqual(JSON.parse(echoed.body), { i, text: "é".repeat(i % 50) });
      assert.equal(echoed.token, `t${i}`);
    }
  } finally {
    await server.shutdown();
  }
  assert.equal(peers.size, 1, "one connection served every call");
});

Deno.test("http1Fetch() reads chunked answers split across packets, and 204s with no body", async () => {
  const server = rawServer(async (request, conn) => {
    if (request.startsWith("DELETE")) {
      await write(conn, "HTTP/1.1 204 No Content\r\ndate: now\r\n\r\n");
      return;
    }
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await write(conn, "encoding: chunked\r\n\r\n5\r\nhello\r\n");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await write(conn, "6\r\n world\r\n0\r\n\r\n");
  });
  const call = http1Fetch();
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await call(`${server.url}/x`);
      assert.equal(await answer.text(), "hello world");
      const deleted = await call(`${server.url}/x`, { method: "DELETE" });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.body, null);
    }
  } finally {
    await server.close();
  }
});

Deno.test("http1Fetch() settles at its signal's timeout when the peer never answers", async () => {
  const server = rawServer(() => {}); // reads, never writes
  const call = http1Fetch();
  try {
    const started = performance.now();
    await assert.rejects(
      call(`${server.url}/slow`, { signal: AbortSignal.timeout(100) }),
      (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
    );
    assert.ok(performance.now() - started < 1000);
  } finally {
    await server.close();
  }
});

Deno.test("http1Fetch() sends again on a fresh connection when an idle one was closed", async () => {
  let answered = 0;
  const server = rawServer(async (_request, conn) => {
    answered++;
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    if (answered === 1) conn.close(); // the peer drops the connection after its first answer
  });
  const call = http1Fetch();
  try {
    assert.equal(await (await call(`${server.url}/a`)).text(), "ok");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await (await call(`${server.url}/b`)).text(), "ok");
    assert.equal(answered, 2);
  } finally {
    await server.close();
  }
});

Deno.test("http1Fetch() sends a call whose new connection the peer closed on one it still serves", async () => {
  // A peer at its connection cap: it serves its first connection (slowly) and closes any other
  // unanswered.
  let served = 0;
  const server = rawServer(async (_request, conn) => {
    if (conn !== server.conns[0]) return conn.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    served++;
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  const call = http1Fetch();
  try {
    const first = call(`${server.url}/a`);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the first holds its connection
    const second = call(`${server.url}/b`); // a new connection, closed: then the first's
    assert.equal(await (await first).text(), "ok");
    assert.equal(await (await second).text(), "ok");
    assert.equal(served, 2);
    assert.equal(server.conns.length, 2, "no third connection tried");
  } finally {
    await server.close();
  }
});

Deno.test("http1Fetch() honours connection: close and refuses header injection", async () => {
  // The server says close but keeps the socket open, answering any reuse differently.
  const answered = new Set<Deno.Conn>();
  const server = rawServer(async (_request, conn) => {
    const body = answered.has(conn) ? "reused" : "bye";
    answered.add(conn);
    await write(
      conn,
      `HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
  });
  const call = http1Fetch();
  try {
    assert.equal(await (await call(`${server.url}/`)).text(), "bye");
    assert.equal(await (await call(`${server.url}/`)).text(), "bye");
    assert.equal(server.conns.length, 2, "a new connection for the second call");
    await assert.rejects(call(`${server.url}/`, { headers: { "x-a": "1\r\nx-b: 2" } }), TypeError);
  } finally {
    await server.close();
  }
});

Deno.test("http1Fetch() to a TLS port at an http:// URL says to call it at https://", async () => {
  // It said "The connection closed inside an answer": the peer's TLS alert read as a head.
  const alert = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]);
  const server = rawServer(async (_request, conn) => {
    await conn.write(alert);
    conn.close();
  });
  try {
    await assert.rejects(
      http1Fetch()(`${server.url}/keys/a`),
      /answered in TLS: call it at https:/,
    );
  } finally {
    await server.close();
  }
});

Deno.test("http1Fetch() rejects when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await assert.rejects(http1Fetch()(`http://127.0.0.1:${port}/`));
});

Deno.test("http1Client().close() closes every connection it opened", async () => {
  const server = rawServer(async (_request, conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  const client = http1Client();
  try {
    await Promise.all([1, 2, 3].map(async () => (await client.fetch(`${server.url}/`)).text()));
    assert.equal(server.conns.length, 3);
    assert.equal(server.ended.count, 0, "kept alive");
    client.close();
    await waitUntil(() => server.ended.count === 3);
  } finally {
    await server.close();
  }
});

Deno.test("http1Client().close() fails a call in flight, and opens no connection after", async () => {
  let calls = 0;
  const server = rawServer(async (_request, conn) => {
    if (++calls === 2) return; // the call in flight when the client closes: never answered
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  const client = http1Client();
  try {
    assert.equal((await client.exchange(server.url, { path: "/a" })).status, 200);
    const inFlight = client.exchange(server.url, { path: "/b" });
    await waitUntil(() => calls === 2);
    client.close();
    await assert.rejects(inFlight);
    await assert.rejects(client.exchange(server.url, { path: "/c" }), /closed/);
    assert.equal(server.conns.length, 1, "no connection opened once closed");
    await waitUntil(() => server.ended.count === 1);
  } finally {
    await server.close();
  }
});

Deno.test("http1Client().close() while a call's connection opens fails the call, and nothing else", async () => {
  const server = rawServer(async (_request, conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  const client = http1Client();
  try {
    const opening = client.exchange(server.url, { path: "/a", signal: AbortSignal.timeout(5000) });
    client.close();
    await assert.rejects(opening, /closed/);
    // The connection, closed as the pool found itself closed, was closed again a moment later,
    // in a promise nobody awaited: an uncaught BadResource ended the process.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    await server.close();
  }
});

async function waitUntil(check: () => boolean) {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
}

Deno.test("calls past the connection limit wait, and one that gives up stops waiting", async () => {
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (new URL(request.url).pathname === "/held") await gate;
      return new Response("done");
    },
  );
  const client = http1Client({ maxConnections: 1 });
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    const held = client.fetch(`${url}/held`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await assert.rejects(
      client.fetch(`${url}/queued`, { signal: AbortSignal.timeout(50) }),
      (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
    );
    const next = client.fetch(`${url}/next`);
    release();
    assert.equal(await (await held).text(), "done");
    assert.equal(await (await next).text(), "done", "the freed connection went to a live caller");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("exchange() answers status, headers and body as read, on fetch's connections", async () => {
  const { server, peers, origin } = countingServer(async (request) => {
    const body = { method: request.method, path: new URL(request.url).pathname };
    return Response.json({ ...body, sent: await request.text() }, {
      status: 201,
      headers: { "X-Epoch": "7", "x-token": request.headers.get("x-token") ?? "" },
    });
  });
  const client = http1Client();
  try {
    const answer = await client.exchange(origin, {
      method: "POST",
      path: "/keys?x=1",
      headers: { "x-token": "t" },
      body: "é",
    });
    assert.equal(answer.status, 201);
    assert.deepEqual(answer.headers.filter(([name]) => name.startsWith("x-")), [
      ["x-epoch", "7"],
      ["x-token", "t"],
    ]);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(answer.body)), {
      method: "POST",
      path: "/keys",
      sent: "é",
    });
    await (await client.fetch(`${origin}/after`)).text();
    assert.equal(peers.size, 1, "exchange and fetch share the keep-alive connection");
    await assert.rejects(
      client.exchange(origin, { path: "/", headers: { "x-bad": "a\r\nb" } }),
      /line break/,
    );
    for (const path of ["/a b", "/a\r\nx-injected: 1", "keys", "/é"]) {
      await assert.rejects(client.exchange(origin, { path }), /Not a path to send/);
    }
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("exchange() reads a head cut inside its blank line, after a 100, and one with no headers", async () => {
  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
  const server = rawServer(async (request, conn) => {
    if (request.startsWith("GET /bare")) {
      await write(conn, "HTTP/1.1 200 OK\r\n\r\nall");
      conn.close();
      return;
    }
    await write(conn, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nX-A:  1 \r");
    await pause();
    await write(conn, "\n");
    await pause();
    await write(conn, "content-length: 2\r\n\r");
    await pause();
    await write(conn, "\nok");
  });
  const client = http1Client();
  try {
    const answer = await client.exchange(server.url, { path: "/cut" });
    assert.equal(answer.status, 201);
    assert.deepEqual(answer.headers, [["x-a", "1"], ["content-length", "2"]]);
    assert.equal(new TextDecoder().decode(answer.body), "ok");
    const bare = await client.exchange(server.url, { path: "/bare" });
    assert.equal(bare.status, 200);
    assert.deepEqual(bare.headers, []);
    assert.equal(
      new TextDecoder().decode(bare.body),
      "all",
      "no framing: ends with the connection",
    );
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http1Fetch() and exchange() take a 205 as bodiless, and keep its connection", async () => {
  // Deno.serve frames a 205 with no content-length: read to the close, it would never end.
  const { server, peers, origin } = countingServer(() => new Response(null, { status: 205 }));
  const client = http1Client();
  try {
    const signal = AbortSignal.timeout(2000);
    const reset = await client.fetch(`${origin}/form`, { signal });
    assert.equal(reset.status, 205);
    assert.equal(reset.body, null);
    const answer = await client.exchange(origin, { path: "/form", signal });
    assert.equal(answer.status, 205);
    assert.equal(answer.body.length, 0);
    assert.equal(peers.size, 1, "one kept-alive connection for both");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("exchange() sends byte bodies short and long, a long one after its head uncopied", async () => {
  const { server, peers, origin } = countingServer(async (request) => {
    const bytes = await request.bytes();
    const sum = bytes.reduce((total, byte) => (total * 31 + byte) >>> 0, 0);
    return Response.json({ length: bytes.length, sum });
  });
  const client = http1Client();
  try {
    for (const length of [0, 1, 4096, 4097, 100_000, 1_000_000]) {
      const body = new Uint8Array(length).map((_, i) => (i * 7) & 0xff);
      const sum = body.reduce((total, byte) => (total * 31 + byte) >>> 0, 0);
      const answer = await client.exchange(origin, { method: "POST", path: "/", body });
      assert.deepEqual(JSON.parse(new TextDecoder().decode(answer.body)), { length, sum });
    }
    assert.equal(peers.size, 1, "every body framed exactly: one keep-alive connection");
  } finally {
    client.close();
    await server.shutdown();
  }
});
