// One contract for both HTTP/1.1 clients: node_client.ts (node:http, here through Deno's Node
// compatibility; tests/e2e/client_package_test.ts runs it under Node) answers as client.ts does.

import assert from "node:assert/strict";
import { type Http1Client, http1Client, type Http1Options } from "./client.ts";
import { SentThenRefused } from "./messages.ts";
import { nodeHttp1Client } from "./node_client.ts";
import { rawServer } from "./test_support.ts";

const clients: [string, (options?: Http1Options) => Http1Client][] = [
  ["http1Client", http1Client],
  ["nodeHttp1Client", nodeHttp1Client],
];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const write = (conn: Deno.Conn, text: string) => conn.write(encoder.encode(text));

/** A Deno.serve on 127.0.0.1, noting the port of each connection it serves. */
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

async function waitUntil(check: () => boolean) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
}

for (const [name, make] of clients) {
  Deno.test(`${name}: exchange() answers status, headers in order and body, on one connection`, async () => {
    const { server, peers, origin } = countingServer(async (request) => {
      const sent = await request.text();
      return new Response(JSON.stringify({ path: new URL(request.url).pathname, sent }), {
        status: 201,
        headers: { "X-Epoch": "7", "x-token": request.headers.get("x-token") ?? "" },
      });
    });
    const client = make();
    try {
      for (let i = 0; i < 50; i++) {
        const answer = await client.exchange(origin, {
          method: "POST",
          path: `/keys?i=${i}`,
          headers: { "content-type": "application/json", "x-token": `t${i}` },
          body: "é".repeat(i),
        });
        assert.equal(answer.status, 201);
        assert.deepEqual(answer.headers.filter(([header]) => header.startsWith("x-")), [
          ["x-epoch", "7"],
          ["x-token", `t${i}`],
        ]);
        assert.deepEqual(JSON.parse(decoder.decode(answer.body)), {
          path: "/keys",
          sent: "é".repeat(i),
        });
      }
      const fetched = await client.fetch(`${origin}/after`, { headers: { "x-token": "f" } });
      assert.equal(fetched.status, 201);
      assert.equal(fetched.headers.get("x-token"), "f");
      assert.equal((await fetched.json()).path, "/after");
      assert.equal(peers.size, 1, "one kept-alive connection served every call");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  Deno.test(`${name}: reads chunked answers split across packets, and 204s with no body`, async () => {
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
    const client = make();
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await client.exchange(server.url, { path: "/x" });
        assert.equal(decoder.decode(answer.body), "hello world");
        const deleted = await client.fetch(`${server.url}/x`, { method: "DELETE" });
        assert.equal(deleted.status, 204);
        assert.equal(deleted.body, null);
      }
    } finally {
      client.close();
      await server.close();
    }
  });

  Deno.test(`${name}: settles at its signal's timeout when the peer never answers`, async () => {
    const server = rawServer(() => {}); // reads, never writes
    const client = make();
    try {
      const started = performance.now();
      await assert.rejects(
        client.exchange(server.url, { path: "/slow", signal: AbortSignal.timeout(100) }),
        (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
      );
      assert.ok(performance.now() - started < 1000);
    } finally {
      client.close();
      await server.close();
    }
  });

  Deno.test(`${name}: sends again on a fresh connection when an idle one was closed`, async () => {
    let answered = 0;
    const server = rawServer(async (_request, conn) => {
      answered++;
      await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      if (answered === 1) conn.close(); // the peer drops the connection after its first answer
    });
    const client = make();
    try {
      assert.equal(
        decoder.decode((await client.exchange(server.url, { path: "/a" })).body),
        "ok",
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(
        decoder.decode((await client.exchange(server.url, { path: "/b" })).body),
        "ok",
      );
      assert.equal(answered, 2);
    } finally {
      client.close();
      await server.close();
    }
  });

  // Under Deno, node:http sends such a call again on a new connection itself and fails with that
  // connection's refusal, out of the client's sight; under Node the client's own check holds.
  Deno.test({
    name: `${name}: a call sent, then refused anew, does not fail as never sent`,
    ignore: name === "nodeHttp1Client",
  }, async () => {
    // The peer takes the second call and dies before answering: the call may have been applied,
    // so its failure must not look like one that never left (a refused connection).
    // Two connections sit idle: the call must not end on the second, as dead as the first.
    let calls = 0;
    const server = rawServer(async (_request, conn) => {
      if (++calls === 3) return void await server.close();
      await new Promise((resolve) => setTimeout(resolve, 20)); // both calls in flight at once
      await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    const client = make();
    try {
      const first = [
        client.exchange(server.url, { path: "/a" }),
        client.exchange(server.url, { path: "/a" }),
      ];
      assert.deepEqual((await Promise.all(first)).map((answer) => answer.status), [200, 200]);
      await assert.rejects(
        client.exchange(server.url, { path: "/b", method: "POST", body: "{}" }),
        SentThenRefused,
      );
      assert.equal(calls, 3);
    } finally {
      client.close();
      if (calls < 3) await server.close();
    }
  });

  Deno.test(`${name}: rejects with ECONNREFUSED when nothing listens`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    const client = make();
    try {
      await assert.rejects(
        client.exchange(`http://127.0.0.1:${port}`, { path: "/" }),
        (error: unknown) => (error as { code?: string }).code === "ECONNREFUSED",
      );
    } finally {
      client.close();
    }
  });

  Deno.test(`${name}: refuses a path or header that would change the request`, async () => {
    const { server, origin } = countingServer(() => new Response("ok"));
    const client = make();
    try {
      for (const path of ["/a b", "/a\r\nx-injected: 1", "keys", "/é"]) {
        await assert.rejects(client.exchange(origin, { path }), TypeError);
      }
      await assert.rejects(
        client.exchange(origin, { path: "/", headers: { "x-a": "1\r\nx-b: 2" } }),
        TypeError,
      );
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  Deno.test(`${name}: close() closes every connection it opened`, async () => {
    const server = rawServer(async (_request, conn) => {
      await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    const client = make();
    try {
      await Promise.all([1, 2, 3].map(() => client.exchange(server.url, { path: "/" })));
      assert.equal(server.conns.length, 3);
      assert.equal(server.ended.count, 0, "kept alive");
      client.close();
      await waitUntil(() => server.ended.count === 3);
    } finally {
      await server.close();
    }
  });

  Deno.test(`${name}: close() fails the calls in flight, those waiting for a connection, and later ones`, async () => {
    // Under Node, calls went on after close(), and new ones opened connections that kept the
    // process alive.
    const server = rawServer(() => {}); // never answers
    const client = make({ maxConnections: 1 });
    try {
      const sent = client.exchange(server.url, { path: "/held" }).catch((error) => error);
      const waiting = client.exchange(server.url, { path: "/behind" }).catch((error) => error);
      await waitUntil(() => server.conns.length === 1);
      client.close();
      assert.ok((await sent) instanceof Error, String(await sent));
      assert.match(String(await waiting), /The client is closed/);
      await assert.rejects(client.exchange(server.url, { path: "/later" }), /The client is closed/);
      await waitUntil(() => server.ended.count === 1);
      assert.equal(server.conns.length, 1, "no connection opened after close()");
    } finally {
      await server.close();
    }
  });

  Deno.test(`${name}: calls past the connection limit wait, and one that gives up stops waiting`, async () => {
    const gate = Promise.withResolvers<void>();
    const { server, peers, origin } = countingServer(async (request) => {
      if (new URL(request.url).pathname === "/held") await gate.promise;
      return new Response("done");
    });
    const client = make({ maxConnections: 1 });
    try {
      const held = client.exchange(origin, { path: "/held" });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await assert.rejects(
        client.exchange(origin, { path: "/queued", signal: AbortSignal.timeout(50) }),
        (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
      );
      const next = client.exchange(origin, { path: "/next" });
      gate.resolve();
      assert.equal(decoder.decode((await held).body), "done");
      assert.equal(decoder.decode((await next).body), "done", "the freed connection served");
      assert.equal(peers.size, 1);
    } finally {
      client.close();
      await server.shutdown();
    }
  });
}
