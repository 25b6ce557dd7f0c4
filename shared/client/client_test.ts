// The client against stand-in nodes and master: gathered reads and writes, refused and re-routed
// batches, ring epochs, deadlines, aborts and several masters.

import assert from "node:assert/strict";
import { CacheClient, CacheError, Refused, TimedOut } from "./client.ts";
import { client, held, MASTER, missing, value, view } from "./client_test_support.ts";
import { EPOCH_HEADER } from "@cache/protocol/wire";
import { Ring } from "@cache/ring/ring";
import { http1Client } from "@cache/http1/client";
import { nodeHttp1Client } from "@cache/http1/node_client";

Deno.test("CacheClient.get() sends a read the node refuses alone once, with its own error", async () => {
  const { cache, calls } = await client(
    { current: view(1, ["http://a:1"]) },
    () => Response.json({ error: "bad key" }, { status: 400 }),
  );
  await assert.rejects(
    cache.get("bad"),
    (e: unknown) => e instanceof CacheError && e.status === 400 && e.message === "bad key",
  );
  assert.deepEqual(calls, ["GET http://a:1/keys/bad"]);
});

Deno.test("CacheClient.get() reads alone what a refused /mget held, each for its own answer", async () => {
  const first = held();
  const { cache, calls } = await client(
    { current: view(1, ["http://a:1"]) },
    async (_node, method, path) => {
      if (path === "/keys/first") {
        await first.wait;
        return value("first", "1");
      }
      if (method === "POST") return Response.json({ error: "a key is not valid" }, { status: 400 });
      return path === "/keys/x" ? value("x", "vx") : missing("y");
    },
  );
  const reads = [cache.get("first"), cache.get("x"), cache.get("y")]; // x and y wait for first
  first.release();
  assert.deepEqual(await Promise.all(reads), ["1", "vx", undefined]);
  assert.deepEqual(calls.slice(0, 2), ["GET http://a:1/keys/first", "POST http://a:1/mget"]);
  assert.deepEqual(calls.slice(2).sort(), ["GET http://a:1/keys/x", "GET http://a:1/keys/y"]);
});

Deno.test("CacheClient.get() reads each key of an /mget its node refused alone, for its own answer", async () => {
  const first = held();
  // A key this client takes and the node does not (a node of another version, say): the node
  // refuses any /mget holding it, and it alone.
  const odd = "refused-by-the-node";
  const { cache, calls } = await client(
    { current: view(1, ["http://a:1"]) },
    async (_node, method, path, body) => {
      if (path === "/keys/first") {
        await first.wait;
        return value("first", "1");
      }
      if (path === "/keys/x") return value("x", "vx");
      if (path === "/keys/y") return Response.json({ error: "not found" }, { status: 404 });
      if (method === "GET") return Response.json({ error: "not this one" }, { status: 400 });
      const { keys } = JSON.parse(body) as { keys: string[] };
      if (keys.includes(odd)) return Response.json({ error: "not this one" }, { status: 400 });
      return Response.json({ items: [], missing: keys });
    },
  );
  const reads = [cache.get("first"), cache.get("x"), cache.get(odd), cache.get("y")];
  first.release();
  const [one, x, refused, y] = await Promise.allSettled(reads);
  assert.deepEqual([one, x, y].map((r) => r.status === "fulfilled" && r.value), [
    "1",
    "vx",
    undefined,
  ]);
  assert.ok(refused.status === "rejected" && refused.reason.status === 400, "its own answer");
  assert.deepEqual(calls.slice(0, 2), ["GET http://a:1/keys/first", "POST http://a:1/mget"]);
  assert.deepEqual(calls.slice(2).sort(), [
    "GET http://a:1/keys/refused-by-the-node",
    "GET http://a:1/keys/x",
    "GET http://a:1/keys/y",
  ]);
});

Deno.test("CacheClient refuses a key or TTL no node takes before any call, with the nodes' 400", async () => {
  const { cache, calls } = await client(
    { current: view(1, ["http://a:1", "http://b:1"]) },
    () => Promise.resolve(new Response(null, { status: 204 })),
  );
  const long = "k".repeat(1025);
  const refusals = [
    cache.get(long),
    cache.set(long, "v"),
    cache.add(long, "v"),
    cache.incr(long),
    cache.set("k", "v", { ttlSeconds: -1 }),
    cache.set("k", "v", { ttlSeconds: Number.NaN }),
    cache.set("k", "v", { ttlSeconds: 1e300 }),
    cache.incr("k", 1, { ttlSeconds: 0 }),
    cache.get(undefined as unknown as string),
  ];
  for (const refused of await Promise.allSettled(refusals)) {
    assert.ok(refused.status === "rejected", "refused");
    assert.equal(refused.reason.name, "CacheError", String(refused.reason));
    assert.equal(refused.reason.status, 400);
  }
  assert.deepEqual(calls, [], "nothing sent");
  const multibyte = "é".repeat(512); // 1024 UTF-8 bytes: taken
  await cache.set(multibyte, "v");
  assert.equal(calls.length > 0, true);
});

Deno.test("CacheClient.get() asks again by the current ring when it changed while reads waited", async () => {
  const ring = { current: view(1, ["http://a:1"]) };
  const first = held();
  const { cache, calls } = await client(ring, async (node, _method, path) => {
    const key = path.slice("/keys/".length);
    if (node === "http://b:1") return value(key, `${key} from b`);
    if (key === "first") {
      await first.wait;
      return value(key, "stale copy on a"); // a handed its keys to b, and still answers
    }
    return missing(key);
  });
  const reads = [cache.get("first"), cache.get("k")]; // both routed to a; k waits for first
  ring.current = view(2, ["http://b:1"]);
  await cache.refresh();
  first.release();
  assert.deepEqual(await Promise.all(reads), ["first from b", "k from b"]);
  assert.deepEqual(calls.sort(), [
    "GET http://a:1/keys/first",
    "GET http://a:1/keys/k",
    "GET http://b:1/keys/first",
    "GET http://b:1/keys/k",
  ]);
});

Deno.test("CacheClient.get() reads through the master when a node fails a batch", async () => {
  const first = held();
  const { cache, calls, ringReads } = await client(
    { current: view(1, ["http://a:1"]) },
    async (node, _m, path) => {
      if (node === MASTER) return value(path.slice("/keys/".length), "via master");
      await first.wait;
      throw new TypeError("connection reset");
    },
  );
  const reads = ["p", "q", "r"].map((key) => cache.get(key)); // q and r wait for p
  first.release();
  assert.deepEqual(await Promise.all(reads), ["via master", "via master", "via master"]);
  // q and r were never sent as a batch to the node that had failed; each read then had its one
  // retry alone, then the master.
  assert.deepEqual(calls.sort(), [
    "GET http://a:1/keys/p",
    "GET http://a:1/keys/p",
    "GET http://a:1/keys/q",
    "GET http://a:1/keys/r",
    "GET http://m:1/keys/p",
    "GET http://m:1/keys/q",
    "GET http://m:1/keys/r",
  ]);
  // connect, one shared refresh after the failed batch, one shared by the reads' own retries
  assert.equal(ringReads(), 3);
});

Deno.test("CacheClient.get() asks again when the ring changed during its own call", async () => {
  const ring = { current: view(1, ["http://a:1"]) };
  const answering = held();
  const { cache, calls } = await client(ring, async (node, _method, path) => {
    const key = path.slice("/keys/".length);
    if (node === "http://b:1") return value(key, "from b");
    await answering.wait; // a answers after the client caught up with ring 2, where b owns k
    return missing(key);
  });
  const read = cache.get("k", { signal: new AbortController().signal }); // alone, not batched
  ring.current = view(2, ["http://b:1"]);
  await cache.refresh();
  answering.release();
  assert.equal(await read, "from b", "a's miss came from a newer ring than the read was routed by");
  assert.deepEqual(calls, ["GET http://a:1/keys/k", "GET http://b:1/keys/k"]);
});

Deno.test("CacheClient.set() calls that fail together share their ring reads, then the master", async () => {
  const { cache, calls, ringReads } = await client(
    { current: view(1, ["http://a:1"]) },
    (node) => {
      if (node === MASTER) return new Response(null, { status: 204 });
      throw new TypeError("connection refused");
    },
  );
  const before = ringReads();
  await Promise.all(["x", "y", "z"].map((key) => cache.set(key, "v")));
  // Each set tries twice; each round of failures shares one ring read: 2, not 6.
  assert.equal(ringReads() - before, 2);
  assert.equal(calls.filter((call) => call === "POST http://m:1/keys").length, 3);
});

Deno.test("CacheClient.set() sends writes to a busy primary as one /mset, through the master alone", async () => {
  for (const mode of ["direct", "proxy"] as const) {
    const first = held();
    const bodies: string[] = [];
    const { cache, calls } = await client(
      { current: view(1, ["http://a:1"]) },
      async (_node, _method, path, body) => {
        if (bodies.length === 0) await first.wait;
        bodies.push(`${path} ${body}`);
        return new Response(null, { status: 204 });
      },
      mode,
    );
    // x and y wait for first, x with its TTL.
    const writes = [cache.set("first", "1"), cache.set("x", "2", { ttlSeconds: 9 })];
    writes.push(cache.set("y", "3"));
    first.release();
    await Promise.all(writes);
    if (mode === "proxy") {
      assert.deepEqual(calls, Array(3).fill("POST http://m:1/keys"), "the master gathers");
      continue;
    }
    assert.deepEqual(calls, ["POST http://a:1/keys", "POST http://a:1/mset"]);
    const items = '[{"key":"x","value":"2","ttl":9},{"key":"y","value":"3"}]';
    assert.equal(bodies[1], `/mset {"items":${items}}`);
  }
});

Deno.test("CacheClient.set() sends the writes of an /mset refused for a newer ring by it, alone", async () => {
  const ring = { current: view(1, ["http://a:1"]) };
  const first = held();
  const { cache, calls } = await client(ring, async (node, _method, path) => {
    if (node === "http://a:1" && path === "/keys") await first.wait;
    if (node === "http://a:1" && path === "/mset") {
      return Response.json({ error: "Routed with ring epoch 1; this node knows 2" }, {
        status: 421,
      });
    }
    return new Response(null, { status: 204 });
  });
  const writes = ["first", "x", "y"].map((key) => cache.set(key, "v")); // x and y wait for first
  ring.current = view(2, ["http://b:1"]); // a answers from ring 2, where b owns every key
  first.release();
  await Promise.all(writes);
  assert.deepEqual(calls.slice(0, 2), ["POST http://a:1/keys", "POST http://a:1/mset"]);
  assert.deepEqual(calls.slice(2), Array(3).fill("POST http://b:1/keys"), "each by ring 2, alone");
});

Deno.test("CacheClient.set() sends again only the write of an /mset a backup did not take", async () => {
  const first = held();
  const { cache, calls } = await client(
    { current: view(1, ["http://a:1"]) },
    async (_node, _method, path, body) => {
      if (body.includes('"first"')) await first.wait;
      if (path === "/mset") {
        const error = "Stored on the primary, but 1 of 2 backups did not take it";
        return Response.json({ error, unreplicated: ["y"] }, { status: 502 });
      }
      return new Response(null, { status: 204 });
    },
  );
  const sent: string[] = [];
  const writes = ["first", "x", "y", "z"].map((key) =>
    cache.set(key, "v").then(() => sent.push(key))
  );
  first.release();
  await Promise.all(writes);
  assert.deepEqual(sent.sort(), ["first", "x", "y", "z"]);
  assert.deepEqual(calls, [
    "POST http://a:1/keys",
    "POST http://a:1/mset",
    "POST http://a:1/keys", // y, the one write of three not on every owner, on its retry
  ]);
});

Deno.test("CacheClient.refresh() keeps the newer ring when an older one answers late", async () => {
  const answers = [view(1, ["http://a:1"])]; // connect reads ring 1 at once
  const late = held();
  let reads = 0;
  const cache = await CacheClient.connect(MASTER, {
    fetch: async () => {
      reads++;
      if (reads === 2) { // the first refresh: ring 2, held until ring 3 has come
        await late.wait;
        return Response.json(view(2, ["http://b:1"]));
      }
      return Response.json(answers.shift() ?? view(3, ["http://c:1"]));
    },
  });
  const slow = cache.refresh();
  await cache.refresh(); // ring 3
  late.release();
  await slow;
  assert.equal(cache.ring?.epoch, 3);
  assert.deepEqual(cache.ring?.nodes, ["http://c:1"]);
});

Deno.test("CacheClient stamps every call to a node with its ring epoch, and none to the master", async () => {
  const stamps: string[] = [];
  const first = held();
  const cache = await CacheClient.connect(MASTER, {
    fetch: async (input, init) => {
      const url = new URL(input);
      const epoch = (init.headers as Record<string, string> | undefined)?.[EPOCH_HEADER] ?? "none";
      stamps.push(`${init.method ?? "GET"} ${url.origin}${url.pathname} ${epoch}`);
      if (url.pathname === "/ring") return Response.json(view(7, ["http://a:1"]));
      if (url.pathname === "/keys/first") await first.wait;
      if (url.pathname === "/mget") return Response.json({ items: [], missing: ["x", "y"] });
      return init.method === "POST" ? new Response(null, { status: 204 }) : value("first", "1");
    },
  });
  const reads = [cache.get("first"), cache.get("x"), cache.get("y")]; // x and y go as one /mget
  first.release();
  await Promise.all(reads);
  await cache.set("k", "v");
  assert.deepEqual(stamps, [
    "GET http://m:1/ring none",
    "GET http://a:1/keys/first 7",
    "POST http://a:1/mget 7",
    "POST http://a:1/keys 7",
  ]);
});

Deno.test("CacheClient gives up on time on a stand-in fetch that ignores its abort signal", async () => {
  const clock = { "x-node-time": String(Date.now()) };
  const cache = await CacheClient.connect(MASTER, {
    mode: "proxy",
    timeoutMs: 20,
    // The master's clock is told (a write carries its deadline in it); nothing else answers.
    fetch: (input) =>
      String(input).endsWith("/live")
        ? Promise.resolve(Response.json({ ok: true }, { headers: clock }))
        : new Promise(() => {}),
  });
  const error = await cache.get("k").catch((e) => e);
  assert.ok(error instanceof TimedOut && error instanceof CacheError, String(error));
  assert.equal(error.message, `${MASTER} did not answer within 20 ms`);
  assert.deepEqual([error.status, error.url, error.timeoutMs, error.write], [0, MASTER, 20, false]);
  // Sent, perhaps taken: not "could not be reached", which reads as never sent.
  const write = await cache.delete("k").catch((e) => e);
  assert.equal(
    write.message,
    `${MASTER} did not answer within 20 ms: the write may or may not have been applied`,
  );
  assert.ok(write instanceof TimedOut && write.write);
  cache.close();
});

Deno.test("CacheClient tells a request never sent by its class: Refused, a read or a write", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const refusing = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
  closed.close();
  const connecting = await CacheClient.connect(refusing).catch((e) => e);
  assert.ok(connecting instanceof Refused && connecting instanceof CacheError, String(connecting));
  const cache = await CacheClient.connect(refusing, { mode: "proxy" });
  try {
    for (const call of [() => cache.get("k"), () => cache.set("k", "v")]) {
      const error = await call().catch((e) => e);
      assert.ok(error instanceof Refused, String(error));
      assert.equal(error.status, 0);
      assert.match(error.message, /could not be reached/);
    }
  } finally {
    cache.close();
  }
});

Deno.test("CacheClient sends a write to a node with the moment it stops waiting, a read without", async () => {
  const deadlines: (string | null)[] = [];
  const cache = await CacheClient.connect(MASTER, {
    timeoutMs: 700,
    fetch: (input, init) => {
      if (new URL(input).pathname === "/ring") {
        return Promise.resolve(Response.json(view(3, ["http://a:1"])));
      }
      deadlines.push(new Headers(init.headers).get("x-deadline"));
      return Promise.resolve(
        init.method === "POST" ? new Response(null, { status: 204 }) : value("k", "v"),
      );
    },
  });
  const before = Date.now();
  await cache.set("k", "v");
  await cache.get("k");
  cache.close();
  const [write, read] = deadlines;
  assert.ok(Number(write) >= before + 700 && Number(write) <= Date.now() + 700, String(write));
  assert.equal(read, null);
});

Deno.test("CacheClient.get() rejects once aborted, even when the answer came back anyway", async () => {
  // A real server, reached by the client's own pooled connections: one process plays master and
  // node, and answers at once.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    return url.pathname === "/ring" ? Response.json(view(3, [url.origin])) : value("user:42", "v");
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    for (const mode of ["direct", "proxy"] as const) {
      const cache = await CacheClient.connect(origin, { mode });
      for (let i = 0; i < 20; i++) {
        const controller = new AbortController();
        const reading = cache.get("user:42", { signal: controller.signal });
        controller.abort();
        await assert.rejects(reading, (error: Error) => error.name === "AbortError", mode);
      }
      assert.equal(await cache.get("user:42"), "v", "a read without a signal is not affected");
      cache.close();
    }
  } finally {
    await server.shutdown();
  }
});

for (
  const [name, transport] of [["Deno.connect", http1Client], [
    "node:http",
    nodeHttp1Client,
  ]] as const
) {
  Deno.test(`CacheClient over ${name} passes a master refusing connections for the next`, async () => {
    // One process plays master and node; the first master listed is a port nothing listens on.
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/ring") return Response.json(view(3, [url.origin]));
      return request.method === "POST" ? new Response(null, { status: 204 }) : value("k", "v");
    });
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const refusing = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
    closed.close();
    const made: string[] = [];
    const cache = await CacheClient.connect([refusing, `http://127.0.0.1:${server.addr.port}`], {
      transport: () => {
        made.push(name);
        return transport();
      },
    });
    try {
      await cache.set("k", "v");
      assert.equal(await cache.get("k"), "v");
      assert.deepEqual(made, [name], "one pooled client, the one given");
    } finally {
      cache.close();
      await server.shutdown();
    }
  });
}

Deno.test("CacheClient.connect() takes options given as undefined as their defaults", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const { origin, pathname } = new URL(request.url);
    return pathname === "/ring" ? Response.json(view(3, [origin])) : value("k", "v");
  });
  const cache = await CacheClient.connect(`http://127.0.0.1:${server.addr.port}`, {
    mode: undefined,
    timeoutMs: undefined,
  });
  try {
    assert.equal(cache.ring?.epoch, 3, "direct mode: the ring was read");
    assert.equal(await cache.get("k"), "v");
  } finally {
    cache.close();
    await server.shutdown();
  }
});

Deno.test("CacheClient.connect() refuses a timeout, mode, token or master URL it cannot keep, calling no one", async () => {
  const calls: string[] = [];
  const fetch = (input: string) => {
    calls.push(input);
    return Promise.resolve(Response.json(view(1, ["http://a:1"])));
  };
  // setTimeout takes none of these as meant: each call failed at once, "no answer within ... ms".
  for (const timeoutMs of [NaN, Infinity, 0, 0.5, -1, 2 ** 31, 1e10]) {
    await assert.rejects(
      CacheClient.connect(MASTER, { fetch, timeoutMs }),
      (e: unknown) => e instanceof TypeError && /timeoutMs/.test(e.message),
      String(timeoutMs),
    );
  }
  // A made-up mode was taken for proxy mode, silently.
  await assert.rejects(
    CacheClient.connect(MASTER, { fetch, mode: "bogus" as "direct" }),
    (e: unknown) => e instanceof TypeError && /mode must be "direct" or "proxy"/.test(e.message),
  );
  // A token no header can carry failed every call as "could not be reached" (status 0).
  for (const token of ["a\nb-token", "token\r", 12345678 as unknown as string]) {
    await assert.rejects(
      CacheClient.connect(MASTER, { fetch, token }),
      (e: unknown) => e instanceof TypeError && /token must be/.test(e.message),
      JSON.stringify(token),
    );
  }
  // A path was dropped by the default transport (the ring read at the root), kept by a fetch.
  // One with credentials too, named with them masked (the test after this one).
  for (const url of ["http://m:1/api", "ftp://m:1", "http://m:1/?a=1", "m:1"]) {
    await assert.rejects(
      CacheClient.connect(url, { fetch }),
      (e: unknown) => e instanceof TypeError && e.message.includes(url),
      url,
    );
  }
  assert.deepEqual(calls, []);
  const cache = await CacheClient.connect("http://m:1/, http://n:1//", { fetch, timeoutMs: 1 });
  cache.close();
});

Deno.test("CacheClient.connect() answers a ring it cannot build with a 502 CacheError", async () => {
  const nodes = Array.from({ length: 70_001 }, (_, i) => `http://n${i}:1`);
  const fetch = () => Promise.resolve(Response.json(view(1, nodes)));
  await assert.rejects(
    CacheClient.connect(MASTER, { fetch }),
    (e: unknown) => e instanceof CacheError && e.status === 502 && /GET \/ring/.test(e.message),
  );
});

Deno.test("CacheClient.connect() that fails closes the connection it opened", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    await conn.read(buffer); // GET /ring
    const body = '{"error":"A bearer token is required"}';
    const head = `HTTP/1.1 401 Unauthorized\r\ncontent-length: ${body.length}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head + body));
    const timer = setTimeout(() => conn.close(), 2000);
    try {
      return await conn.read(buffer) === null; // the client closed its end
    } catch {
      return false; // closed here, 2 s on
    } finally {
      clearTimeout(timer);
    }
  })();
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  try {
    await assert.rejects(CacheClient.connect(url, { token: "wrong" }), /bearer token/);
    assert.ok(await peer, "the client closed its connection");
  } finally {
    listener.close();
  }
});

/**
 * A master that answers its first call on a kept-alive connection (naming its clock, as masters
 * do), takes the second, and dies.
 */
function dyingMaster() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    await conn.read(buffer);
    const body = JSON.stringify({ key: "k", value: "from-a", version: "0.1" });
    const head = `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n` +
      `x-node-time: ${Date.now()}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head + body));
    await conn.read(buffer); // taken, maybe applied
    listener.close();
    conn.close();
  })();
  return { url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`, dead };
}

Deno.test("CacheClient after its master died mid-call: a read goes on, a write does not", async () => {
  const taken: string[] = [];
  const b = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    taken.push(`${request.method} ${new URL(request.url).pathname}`);
    return new URL(request.url).pathname === "/mget"
      ? Response.json({ items: [{ key: "k", value: "from-b", version: "0.1" }], missing: [] })
      : value("k", "from-b");
  });
  const next = `http://127.0.0.1:${b.addr.port}`;
  const forReads = dyingMaster();
  const forWrites = dyingMaster();
  const reads = await CacheClient.connect([forReads.url, next], { mode: "proxy" });
  const writes = await CacheClient.connect([forWrites.url, next], { mode: "proxy" });
  try {
    assert.equal(await reads.get("k"), "from-a");
    assert.deepEqual(await reads.mget(["k"]), ["from-b"], "a read goes to the next master");
    assert.equal(await writes.get("k"), "from-a");
    await assert.rejects(writes.add("k", "v"), (error: CacheError) => error.status === 0);
    assert.deepEqual(taken, ["POST /mget"], "the write, maybe applied, was not sent again");
    await Promise.all([forReads.dead, forWrites.dead]);
  } finally {
    reads.close();
    writes.close();
    await b.shutdown();
  }
});

Deno.test("CacheClient calls refused together by the first master all reach the next", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    return value("k", "v");
  });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const refusing = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
  closed.close();
  const up = `http://127.0.0.1:${server.addr.port}`;
  const cache = await CacheClient.connect([refusing, up, refusing], { mode: "proxy" });
  try {
    const reads = await Promise.all(Array.from({ length: 10 }, () => cache.get("k")));
    assert.deepEqual(reads, Array(10).fill("v"));
    assert.equal(await cache.get("k"), "v", "the master that answered is the one called first");
  } finally {
    cache.close();
    await server.shutdown();
  }
});

Deno.test("CacheClient.mget() after a ring change sends each key to its owner in the new ring", async () => {
  const [a, b] = ["http://a:1", "http://b:1"];
  const newer = new Ring([a, b]);
  const keyOn = (node: string) =>
    Array.from({ length: 100 }, (_, i) => `k${i}`)
      .find((key) => newer.owner(key) === node)!;
  const [onA, onB] = [keyOn(a), keyOn(b)];
  // b joined and the ring settled: onB moved to b, and a dropped it.
  const held: Record<string, string> = { [a]: onA, [b]: onB };
  const ring = { current: view(1, [a]) };
  const { cache, calls } = await client(ring, (node, _method, path, body) => {
    if (path !== "/mget") return missing("?");
    const { keys } = JSON.parse(body) as { keys: string[] };
    return Response.json({
      items: keys.filter((key) => key === held[node]).map((key) => ({
        key,
        value: key,
        version: "2.1",
      })),
      missing: keys.filter((key) => key !== held[node]),
    }, { headers: { [EPOCH_HEADER]: String(ring.current.epoch) } });
  });
  ring.current = view(2, [a, b]); // the client still routes by epoch 1
  try {
    assert.deepEqual(await cache.mget([onA, onB]), [onA, onB]);
    assert.deepEqual(calls.filter((call) => call.includes("/mget")).sort(), [
      "POST http://a:1/mget",
      "POST http://a:1/mget",
      "POST http://b:1/mget",
    ]);
  } finally {
    cache.close();
  }
});

Deno.test("CacheClient refuses a key with a lone surrogate with a 400 CacheError, calling no one", async () => {
  const { cache, calls } = await client(
    { current: view(1, ["http://a:1"]) },
    () => value("k", "v"),
  );
  for (const mode of ["get", "delete", "touch", "incr"] as const) {
    const call = mode === "get"
      ? cache.get("a\ud800")
      : mode === "delete"
      ? cache.delete("a\ud800")
      : mode === "touch"
      ? cache.touch("a\ud800", 5)
      : cache.incr("a\ud800");
    await assert.rejects(
      call,
      (e: unknown) =>
        e instanceof CacheError && e.status === 400 && /lone surrogate/.test(e.message),
      mode,
    );
  }
  assert.deepEqual(calls, []);
});

Deno.test("CacheClient.touch() refuses a TTL that is not a number of seconds, calling no one", async () => {
  // JSON has no NaN or Infinity: each went as null, which removes the TTL.
  const { cache, calls } = await client(
    { current: view(1, ["http://a:1"]) },
    () => value("k", "v"),
  );
  try {
    for (const ttl of [NaN, Infinity, -Infinity, 0, -5]) {
      await assert.rejects(
        cache.touch("k", ttl),
        (e: unknown) => e instanceof CacheError && e.status === 400 && /ttl must/.test(e.message),
        String(ttl),
      );
    }
    assert.deepEqual(calls, []);
    assert.equal(await cache.touch("k", null), true, "null still removes it");
  } finally {
    cache.close();
  }
});

Deno.test("CacheClient.mset() and mget() refuse a bad item by its place in the list, calling no one", async () => {
  // Each node checks only its share: in direct mode the other nodes stored theirs.
  const nodes = ["http://a:1", "http://b:1", "http://c:1"];
  for (const mode of ["direct", "proxy"] as const) {
    const { cache, calls } = await client({ current: view(1, nodes) }, () => value("k", "v"), mode);
    const items = ["a", "b", "c", "d", "e"].map((key) => ({ key, value: "v" }));
    const refusals: [Promise<unknown>, RegExp][] = [
      [cache.mset([...items, { key: "", value: "v" }]), /^items\.5\.key: Key must not be empty$/],
      [cache.mset([...items, { key: "f", value: "v", ttlSeconds: NaN }]), /^items\.5\.ttl: /],
      [cache.mset([...items, { key: "f", value: 5 as unknown as string }]), /^items\.5\.value: /],
      [cache.mget(["a", "b", "c", "\ud800"]), /^keys\.3: Key /],
      [cache.getItems(["a", "b", "c", "d", ".."]), /^keys\.4: Key must not be "\." or/],
    ];
    for (const [i, [call, message]] of refusals.entries()) {
      await assert.rejects(
        call,
        (e: unknown) => e instanceof CacheError && e.status === 400 && message.test(e.message),
        `${mode} call ${i}`,
      );
    }
    assert.deepEqual(calls, [], mode);
    cache.close();
  }
});

Deno.test("CacheClient.mset() (direct) fails only once every node's share is settled", async () => {
  // A share still out, or sent again, after mset() failed would be stored later than a write made
  // after that failure, and read back over it.
  const nodes = ["http://a:1", "http://b:1"];
  const ring = new Ring(nodes);
  const [onA, onB] = nodes.map((node) =>
    [...Array(50).keys()].map((i) => `k${i}`).find((k) => ring.owner(k) === node)!
  );
  const b = held();
  const { cache } = await client({ current: view(1, nodes) }, async (node, _method, path) => {
    if (node === "http://a:1") {
      return Response.json({ error: "refused" }, { status: 400 }); // not sent again
    }
    if (path === "/mset") await b.wait;
    return new Response(null, { status: 204 });
  });
  try {
    let settled = false;
    const items = [{ key: onA, value: "v" }, { key: onB, value: "v" }];
    const outcome = cache.mset(items).then(() => "stored", (e) => e).finally(() => settled = true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, "b's share is still out");
    b.release();
    const error = await outcome;
    assert.ok(error instanceof CacheError && error.status === 400, String(error));
  } finally {
    cache.close();
  }
});

Deno.test("CacheClient refuses the keys a URL takes for path steps with a 400, calling no one", async () => {
  for (const mode of ["direct", "proxy"] as const) {
    const { cache, calls } = await client(
      { current: view(1, ["http://a:1"]) },
      () => value("k", "v"),
      mode,
    );
    for (const key of ["", ".", ".."]) {
      // (A write sends the key in its body: the node refuses it with the same 400.)
      const refusals = [
        cache.get(key),
        cache.getItem(key),
        cache.delete(key),
        cache.touch(key, 5),
        cache.incr(key),
      ];
      for (const [i, call] of refusals.entries()) {
        await assert.rejects(
          call,
          (e: unknown) => e instanceof CacheError && e.status === 400 && /Key must/.test(e.message),
          `${mode} ${JSON.stringify(key)} call ${i}`,
        );
      }
    }
    assert.deepEqual(calls, [], mode);
  }
});

Deno.test("CacheClient answers a server's document that is not the one asked with a CacheError", async () => {
  const ring = { current: view(1, ["http://a:1"]) };
  let answer = (): Response => Response.json(null);
  const { cache } = await client(ring, () => answer());
  const refused = async (call: Promise<unknown>, reason: RegExp) => {
    const error = await call.then(() => undefined, (e) => e);
    assert.ok(error instanceof CacheError && error.status === 502, String(error));
    assert.match(error.message, reason);
  };
  try {
    for (const body of [null, 42, { value: 42 }]) {
      answer = () => Response.json(body);
      await refused(cache.get("k"), /unexpected document/);
    }
    answer = () => Response.json({ key: "other", value: "X", version: "0.1" });
    await refused(cache.get("k"), /another key: other/);
    // An /mget that leaves a key out, or names one not asked, does not say it is missing.
    answer = () =>
      Response.json({ items: [{ key: "a", value: "1", version: "0.1" }], missing: [] });
    await refused(cache.mget(["a", "b"]), /nothing of b/);
    answer = () => Response.json({ items: [], missing: ["a", "b", "c"] });
    await refused(cache.mget(["a", "b"]), /a key not asked, c/);
  } finally {
    cache.close();
  }
  const garbled = { current: { ...view(1, ["http://a:1"]), replicas: 0 } };
  await refused(client(garbled, () => answer()), /GET \/ring answered an unexpected document/);
});

Deno.test("CacheClient never reads an answer that is not this service's as not stored", async () => {
  // A proxy's or ingress' own pages, say: a 404 must carry the service's error to mean "missing".
  const ring = { current: view(1, ["http://a:1"]) };
  let answer = (): Response => new Response(null);
  const { cache } = await client(ring, () => answer());
  const html = { "content-type": "text/html" };
  try {
    for (
      const make of [
        () => new Response("<html>Not Found</html>", { status: 404, headers: html }),
        () => new Response(null, { status: 404 }),
        () => Response.json({ detail: "no such page" }, { status: 404 }),
        () => new Response("<html>ok</html>", { headers: html }),
      ]
    ) {
      answer = make;
      for (
        const call of [
          () => cache.get("k"),
          () => cache.getItem("k"),
          () => cache.delete("k"),
          () => cache.touch("k", 60),
          () => cache.mget(["k"]),
        ]
      ) {
        const error = await call().then(() => undefined, (e) => e);
        assert.ok(error instanceof CacheError && error.status === 502, String(error));
      }
    }
  } finally {
    cache.close();
  }
});

Deno.test("CacheClient asks a master for its clock once, and not past the caller's signal", async () => {
  // A master whose answers name no clock (behind a proxy that drops the header) was asked before
  // every write; a write whose caller gave up waited for the question all the same.
  const calls: string[] = [];
  let hang = false;
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(input)).pathname;
    calls.push(`${init?.method ?? "GET"} ${path}`);
    if (hang) {
      return new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
      );
    }
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const cache = await CacheClient.connect(MASTER, { mode: "proxy", fetch, timeoutMs: 5000 });
  const other = await CacheClient.connect("http://m:2", { mode: "proxy", fetch, timeoutMs: 5000 });
  try {
    for (const key of ["a", "b", "c"]) await cache.set(key, "v");
    assert.deepEqual(calls, ["GET /live", "POST /keys", "POST /keys", "POST /keys"]);
    hang = true;
    const started = performance.now();
    const gaveUp = other.set("d", "v", { signal: AbortSignal.timeout(50) });
    await assert.rejects(gaveUp);
    assert.ok(performance.now() - started < 1000, "not the client's whole timeout");
    assert.deepEqual(calls.slice(4), ["GET /live"], "the write itself was never sent");
  } finally {
    cache.close();
    other.close();
  }
});

Deno.test("CacheClient sends a first write past a master that does not tell its clock to the next", async () => {
  // Sent with no deadline, it could have landed late on a master that wakes up; asked for its
  // clock first, the silent master is never sent the write.
  const calls: string[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    calls.push(`${init?.method ?? "GET"} ${url.origin}${url.pathname}`);
    if (url.origin === MASTER) { // silent until the caller gives up
      return new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
      );
    }
    const clock = { "x-node-time": String(Date.now()) };
    return Promise.resolve(new Response(null, { status: 204, headers: clock }));
  };
  const cache = await CacheClient.connect([MASTER, "http://m:2"], {
    mode: "proxy",
    fetch,
    timeoutMs: 100,
  });
  try {
    await cache.set("k", "v");
    assert.deepEqual(calls, [`GET ${MASTER}/live`, "GET http://m:2/live", "POST http://m:2/keys"]);
  } finally {
    cache.close();
  }
});

Deno.test("CacheClient.connect() refuses a URL with credentials without echoing them", async () => {
  const error = await CacheClient.connect("http://user:secret@m:1").then(() => undefined, (e) => e);
  assert.ok(error instanceof TypeError, String(error));
  assert.equal(
    error.message,
    'Invalid master URL "http://***@m:1": expected http(s)://host[:port]',
  );
});
