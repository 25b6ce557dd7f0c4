// The client's versioned reads, conditional writes, increments, TTLs, scans and flush against
// stand-in nodes and master: what each sends where, what it retries, and what it answers.
// tests/e2e/client_atomic_test.ts runs the same operations against real apps.

import assert from "node:assert/strict";
import { CacheError } from "./client.ts";
import { client, held, MASTER, missing, view } from "./client_test_support.ts";

const A = "http://a:1";
const noContent = () => new Response(null, { status: 204 });
const failed = (status: number, error: string, details: Record<string, unknown> = {}) =>
  Response.json({ error, ...details }, { status });
const counter = (value: number) => Response.json({ key: "hits", value, version: `1.${value}` });

Deno.test("CacheClient.getItem() and getItems() answer each key's version and seconds left", async () => {
  const { cache, calls } = await client({ current: view(1, [A]) }, (_node, _method, path) => {
    if (path === "/keys/k") {
      return Response.json({ key: "k", value: "v", ttl: 9.5, version: "1.7" });
    }
    if (path === "/keys/nobody") return missing("nobody");
    return Response.json({
      items: [{ key: "a", value: "1", version: "1.2" }],
      missing: ["b"],
    });
  });
  assert.deepEqual(await cache.getItem("k"), {
    key: "k",
    value: "v",
    version: "1.7",
    ttlSeconds: 9.5,
  });
  assert.equal(await cache.getItem("nobody"), undefined);
  assert.equal(await cache.get("k"), "v");
  assert.deepEqual(await cache.getItems(["a", "b"]), [
    { key: "a", value: "1", version: "1.2" },
    undefined,
  ]);
  assert.deepEqual(calls, [
    "GET http://a:1/keys/k",
    "GET http://a:1/keys/nobody",
    "GET http://a:1/keys/k",
    "POST http://a:1/mget",
  ]);
});

Deno.test("CacheClient.set() with a condition goes alone, never in a gathered /mset", async () => {
  const first = held();
  const bodies: string[] = [];
  const { cache, calls } = await client({ current: view(1, [A]) }, async (_n, _m, path, body) => {
    if (body.includes('"first"')) await first.wait;
    bodies.push(`${path} ${body}`);
    return noContent();
  });
  // While "first" is out, a plain set and a conditional one are made: only the plain one waits.
  const writes = [
    cache.set("first", "1"),
    cache.set("plain", "2"),
    cache.set("lock", "me", { if: "absent", ttlSeconds: 30 }),
  ];
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(bodies, ['/keys {"key":"lock","value":"me","ttl":30,"if":"absent"}']);
  first.release();
  await Promise.all(writes);
  assert.deepEqual(calls, [
    "POST http://a:1/keys",
    "POST http://a:1/keys",
    "POST http://a:1/keys", // plain alone: the one write that waited
  ]);
});

Deno.test("CacheClient.set() rejects a failed condition with 412 and the key's version", async () => {
  const { cache } = await client(
    { current: view(1, [A]) },
    () =>
      failed(412, 'Key "k" is at version 1.9: "if": "absent" does not hold', { version: "1.9" }),
  );
  const error = await cache.set("k", "v", { if: "absent" }).catch((e) => e);
  assert.ok(error instanceof CacheError);
  assert.equal(error.status, 412);
  assert.deepEqual(error.details, { version: "1.9" });
});

Deno.test("CacheClient.add(), replace() and cas() answer their outcome, sending their condition", async () => {
  const bodies: unknown[] = [];
  const stored = new Map([["k", "1.5"]]); // key -> version
  let next = 6;
  const { cache } = await client({ current: view(1, [A]) }, (_node, _method, _path, body) => {
    const write = JSON.parse(body);
    bodies.push(write);
    const version = stored.get(write.key) ?? null;
    const holds = (write.if === "absent" ? version === null : true) &&
      (write.if === "present" ? version !== null : true) &&
      (write.ifVersion === undefined || write.ifVersion === version);
    if (!holds) return failed(412, "does not hold", { version });
    stored.set(write.key, `1.${next++}`);
    return noContent();
  });
  assert.equal(await cache.add("k", "v"), false);
  assert.equal(await cache.add("new", "v", { ttlSeconds: 5 }), true);
  assert.equal(await cache.replace("absent", "v"), false);
  assert.equal(await cache.replace("k", "v2"), true);
  assert.deepEqual(await cache.cas("k", "v3", "1.5"), { ok: false, version: "1.7" });
  assert.deepEqual(await cache.cas("k", "v3", "1.7"), { ok: true });
  assert.deepEqual(await cache.cas("k2", "v", null), { ok: true });
  assert.deepEqual(await cache.cas("k2", "v", null), { ok: false, version: "1.9" });
  assert.deepEqual(bodies.slice(0, 5), [
    { key: "k", value: "v", if: "absent" },
    { key: "new", value: "v", ttl: 5, if: "absent" },
    { key: "absent", value: "v", if: "present" },
    { key: "k", value: "v2", if: "present" },
    { key: "k", value: "v3", ifVersion: "1.5" },
  ]);
});

Deno.test("CacheClient.set() with a condition is sent again by a newer ring, not after no answer", async () => {
  const ring = { current: view(1, [A]) };
  const { cache, calls } = await client(ring, (node) => {
    if (node === A) {
      ring.current = view(2, ["http://b:1"]);
      return failed(421, "Routed with ring epoch 1; this node knows 2");
    }
    return noContent();
  });
  await cache.set("k", "v", { ifVersion: "1.1" });
  assert.deepEqual(calls, ["POST http://a:1/keys", "POST http://b:1/keys"]);

  const timedOut = await client({ current: view(1, [A]) }, () => {
    throw new TypeError("connection reset");
  });
  await assert.rejects(timedOut.cache.add("k", "v"), (e: CacheError) => e.status === 0);
  assert.deepEqual(timedOut.calls, ["POST http://a:1/keys"], "maybe applied: not sent again");
  const failing = await client({ current: view(1, [A]) }, () => failed(504, "no answer in time"));
  await assert.rejects(failing.cache.cas("k", "v", "1.1"), (e: CacheError) => e.status === 504);
  assert.equal(failing.calls.length, 1);
});

Deno.test("CacheClient.delete() that may have applied is not sent again, which would answer false", async () => {
  // The primary deleted the key, then a backup did not answer in time: sent again, the delete
  // found nothing and reported a stored key as never stored.
  for (const status of [0, 502, 504]) {
    const { cache, calls } = await client({ current: view(1, [A]) }, () => {
      if (calls.length > 1) return missing("k");
      if (status === 0) throw new TypeError("connection reset");
      return failed(status, "Stored on the primary, but 1 of 1 backups did not take it");
    });
    await assert.rejects(
      cache.delete("k"),
      (e: unknown) => e instanceof CacheError && e.status === status,
    );
    assert.deepEqual(calls, ["DELETE http://a:1/keys/k"], `${status}: not sent again`);
  }
});

Deno.test("CacheClient writes a node applied while it learned a newer ring are not sent again", async () => {
  // The node stores each write, then learns a newer ring while it replicates: its 2xx carries it.
  const ring = { current: view(1, [A]) };
  const { cache, calls } = await client(ring, (_node, _method, path) => {
    ring.current = view(ring.current.epoch + 1, [A]);
    if (path.endsWith("/incr")) return counter(5);
    return path === "/keys/gone" ? noContent() : Response.json({ ok: true });
  });
  assert.equal(await cache.add("lock", "me"), true);
  assert.equal(await cache.delete("gone"), true);
  assert.equal((await cache.incr("hits")).value, 5);
  assert.deepEqual(calls, [
    "POST http://a:1/keys",
    "DELETE http://a:1/keys/gone",
    "POST http://a:1/keys/hits/incr",
  ]);
});

Deno.test("CacheClient conditional writes that may have applied are not sent again by a newer ring", async () => {
  // The primary stored the write, then its backup did not answer in time (504) while the ring
  // changed: sent again, the write found its own version and failed its condition (412).
  for (const status of [502, 504]) {
    const ring = { current: view(1, [A]) };
    const { cache, calls } = await client(ring, () => {
      ring.current = view(ring.current.epoch + 1, [A]);
      return calls.length > 1
        ? failed(412, "Condition does not hold", { version: "7.1" })
        : failed(status, "Stored on the primary; a backup did not answer in time");
    });
    for (const write of [() => cache.add("lock", "me"), () => cache.cas("lock", "me", "6.1")]) {
      calls.length = 0;
      await assert.rejects(
        write(),
        (e: unknown) => e instanceof CacheError && e.status === status && /backup/.test(e.message),
      );
      assert.deepEqual(calls, ["POST http://a:1/keys"], `${status}: not sent again`);
    }
  }
});

Deno.test("CacheClient.incr() sends by, ttl and a request id, the same one on every retry", async () => {
  const bodies: { by: number; ttl?: number; requestId: string }[] = [];
  let failures = 4;
  const { cache, calls } = await client(
    { current: view(1, [A]) },
    (_node, _method, _path, body) => {
      bodies.push(JSON.parse(body));
      if (failures-- > 0) return failed(503, "No node is up to own the key");
      return counter(11);
    },
  );
  assert.deepEqual(await cache.incr("hits", 10, { ttlSeconds: 60 }), {
    key: "hits",
    value: 11,
    version: "1.11",
  });
  // Round 1: the node, again after a ring read, the master; round 2: the node, then it answers.
  assert.deepEqual(calls, [
    "POST http://a:1/keys/hits/incr",
    "POST http://a:1/keys/hits/incr",
    "POST http://m:1/keys/hits/incr",
    "POST http://a:1/keys/hits/incr",
    "POST http://a:1/keys/hits/incr",
  ]);
  const [{ requestId }] = bodies;
  assert.match(requestId, /^[0-9a-f-]{36}$/);
  assert.deepEqual(
    new Set(bodies.map((body) => JSON.stringify(body))),
    new Set([
      JSON.stringify({ by: 10, ttl: 60, requestId }),
    ]),
  );
});

Deno.test("CacheClient.incr() marks every call after one that may have applied it", async () => {
  const bodies: { retry?: boolean }[] = [];
  const answers = [
    failed(503, "No node is up to own the key"), // refused: the next is a first send still
    failed(502, "Stored on the primary, but 1 of 1 backups did not take it"),
    failed(503, "The master is learning the last ring"),
    failed(503, "No node is up to own the key"),
  ];
  const { cache } = await client({ current: view(1, [A]) }, (_node, _method, _path, body) => {
    bodies.push(JSON.parse(body));
    return answers.shift() ?? counter(3);
  });
  assert.equal((await cache.incr("hits")).value, 3);
  // Round 1: the node (503), again after a ring read (502), then the master; round 2: the node.
  assert.deepEqual(bodies.map((body) => body.retry ?? false), [false, false, true, true, true]);
});

Deno.test("CacheClient.incr() keeps a request id given, and does not retry a 409", async () => {
  const bodies: string[] = [];
  const { cache, calls } = await client(
    { current: view(1, [A]) },
    (_node, _method, _path, body) => {
      bodies.push(body);
      return failed(409, 'Key "name" does not hold a decimal integer: cannot add to it');
    },
    "proxy",
  );
  const error = await cache.decr("name", 2, { requestId: "mine" }).catch((e) => e);
  assert.ok(error instanceof CacheError && error.status === 409, String(error));
  assert.deepEqual(calls, ["POST http://m:1/keys/name/incr"]);
  assert.deepEqual(bodies.map((body) => JSON.parse(body)), [{ by: -2, requestId: "mine" }]);
});

Deno.test("CacheClient.incr() gives up after its rounds with the request id to send again", async () => {
  const bodies: string[] = [];
  const { cache } = await client({ current: view(1, [A]) }, (_n, _m, _p, body) => {
    bodies.push(body);
    return failed(504, "The owning node did not answer in time");
  }, "proxy");
  const error = await cache.incr("hits", 1, { requestId: "r-1" }).catch((e) => e);
  assert.ok(error instanceof CacheError && error.status === 504, String(error));
  assert.equal(error.details.requestId, "r-1");
  assert.equal(bodies.length, 3, "three rounds, one master call each");
});

Deno.test("CacheClient.touch() sends the TTL or null, and answers false for a key not stored", async () => {
  const bodies: string[] = [];
  const { cache, calls } = await client({ current: view(1, [A]) }, (_node, _method, path, body) => {
    bodies.push(body);
    return path === "/keys/gone/touch" ? missing("gone") : noContent();
  });
  assert.equal(await cache.touch("k", 30), true);
  assert.equal(await cache.touch("k", null), true);
  assert.equal(await cache.touch("gone", 5), false);
  assert.deepEqual(bodies, ['{"ttl":30}', '{"ttl":null}', '{"ttl":5}']);
  assert.deepEqual(calls, [
    "POST http://a:1/keys/k/touch",
    "POST http://a:1/keys/k/touch",
    "POST http://a:1/keys/gone/touch",
  ]);
});

Deno.test("CacheClient.scan() reads every page through the master, even in direct mode", async () => {
  const pages: Record<string, unknown> = {
    "": { keys: ["user:1", "user:2"], cursor: "40" },
    "40": { keys: [], cursor: "77" },
    "77": { keys: ["user:3"], cursor: null },
  };
  const { cache, calls } = await client({ current: view(1, [A]) }, (node, _method, path) => {
    assert.equal(node, MASTER);
    assert.equal(path, "/keys");
    const cursor = new URL(calls.at(-1)!.split(" ")[1]).searchParams.get("cursor") ?? "";
    return Response.json(pages[cursor]);
  });
  const keys: string[] = [];
  for await (const key of cache.scan({ prefix: "user:", count: 2 })) keys.push(key);
  assert.deepEqual(keys, ["user:1", "user:2", "user:3"]);
  assert.deepEqual(calls, [
    "GET http://m:1/keys?prefix=user%3A&count=2",
    "GET http://m:1/keys?prefix=user%3A&count=2&cursor=40",
    "GET http://m:1/keys?prefix=user%3A&count=2&cursor=77",
  ]);
  assert.deepEqual(await cache.scanPage({ cursor: "77" }), { keys: ["user:3"], cursor: null });
});

Deno.test("CacheClient.flush() deletes every key through the master, and says why it may not", async () => {
  const { cache, calls } = await client({ current: view(1, [A]) }, () => noContent());
  await cache.flush();
  assert.deepEqual(calls, ["DELETE http://m:1/keys"]);
  const refused = await client(
    { current: view(1, [A]) },
    () => failed(403, "Only an admin token may flush the cluster"),
    "proxy",
  );
  await assert.rejects(
    refused.cache.flush(),
    (e: CacheError) => e.status === 403 && /admin token/.test(e.message),
  );
});
