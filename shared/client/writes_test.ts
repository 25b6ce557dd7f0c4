// Gathered writes against a stand-in node: what goes alone, what goes together, and each answer.

import assert from "node:assert/strict";
import { CacheError, type CallInit } from "./call.ts";
import { GatheredWrites, type Write } from "./writes.ts";
import { MAX_BATCH, MAX_BATCH_BYTES } from "@cache/protocol/wire";

const NODE = "http://a:1";

/** Answers a call the stand-in node takes: a body, or a thrown CacheError. */
type Answer = (path: string, items: { key: string; value: string }[]) => unknown;

/**
 * Gathered writes to a stand-in node that holds its first call until `release()`; `calls` lists
 * each call as `path @epoch keys`.
 */
function gathered(answer: Answer = () => undefined) {
  const calls: string[] = [];
  const { promise: held, resolve: release } = Promise.withResolvers<void>();
  let first = true;
  const callNode = async (_node: string, path: string, init: CallInit, epoch: number) => {
    const body = JSON.parse(init.body!);
    const items = path === "/mset" ? body.items : [body];
    calls.push(`${path} @${epoch} ${items.map((item: { key: string }) => item.key).join(",")}`);
    if (first) {
      first = false;
      await held;
    }
    return await answer(path, items);
  };
  return { writes: new GatheredWrites({ callNode }), calls, release: () => release() };
}

const write = (key: string, value = "v", epoch = 1): Write => ({
  key,
  body: JSON.stringify({ key, value }),
  epoch,
});

/** Each write's outcome: "ok", or the status it was rejected with. */
function outcomes(writes: Promise<void>[]): Promise<(string | number)[]> {
  return Promise.all(writes.map((w) =>
    w.then(
      () => "ok",
      (error: unknown) => error instanceof CacheError ? error.status : String(error),
    )
  ));
}

/** Fails every call to `/mset` with `status` (and `details`); answers every `/keys` with 204. */
const msetFails = (status: number, details = {}): Answer => (path) => {
  if (path === "/mset") throw new CacheError(status, `refused with ${status}`, details);
};

Deno.test("GatheredWrites sends a write to an idle node alone, as POST /keys", async () => {
  const { writes, calls, release } = gathered();
  release();
  await writes.write(NODE, write("a"));
  await writes.write(NODE, write("b"));
  assert.deepEqual(calls, ["/keys @1 a", "/keys @1 b"]);
});

Deno.test("GatheredWrites sends the writes made while one is out as one /mset, in order", async () => {
  const bodies: string[] = [];
  const { writes, calls, release } = gathered((path, items) => {
    if (path === "/mset") bodies.push(JSON.stringify(items));
  });
  const ttl = { key: "c", body: JSON.stringify({ key: "c", value: "3", ttl: 60 }), epoch: 1 };
  const all = [write("a"), write("b", "1"), ttl, write("b", "2")].map((w) => writes.write(NODE, w));
  release();
  assert.deepEqual(await outcomes(all), ["ok", "ok", "ok", "ok"]);
  assert.deepEqual(calls, ["/keys @1 a", "/mset @1 b,c,b"]);
  // The node applies items in order: the last write of b wins; c keeps its TTL.
  assert.deepEqual(bodies, [
    '[{"key":"b","value":"1"},{"key":"c","value":"3","ttl":60},{"key":"b","value":"2"}]',
  ]);
});

Deno.test("GatheredWrites cuts the writes waiting into /mset calls no node refuses for size", async () => {
  const { writes, calls, release } = gathered();
  // Each body is a third of a batch's bytes, give or take: three fit in one /mset, not four.
  const big = (key: string) => write(key, "x".repeat(MAX_BATCH_BYTES / 3 - 40));
  const all = [write("first"), ...["a", "b", "c", "d", "e"].map(big)].map((w) =>
    writes.write(NODE, w)
  );
  release();
  await Promise.all(all);
  assert.deepEqual(calls, ["/keys @1 first", "/mset @1 a,b,c", "/mset @1 d,e"]);
});

Deno.test("GatheredWrites puts at most MAX_BATCH writes in one /mset", async () => {
  const { writes, calls, release } = gathered();
  const keys = Array.from({ length: MAX_BATCH + 2 }, (_, i) => `k${i}`);
  const all = keys.map((key) => writes.write(NODE, write(key)));
  release();
  await Promise.all(all);
  assert.deepEqual(calls.map((call) => call.split(",").length), [1, MAX_BATCH, 1]);
});

Deno.test("GatheredWrites sends each write of a refused /mset alone, for its own answer", async () => {
  for (const status of [400, 413, 507]) {
    const { writes, calls, release } = gathered((path, items) => {
      if (path === "/mset" || items[0].key === "") {
        throw new CacheError(status, `refused with ${status}`);
      }
    });
    const all = ["a", "b", "", "c"].map((key) => writes.write(NODE, write(key)));
    release();
    assert.deepEqual(await outcomes(all), ["ok", "ok", status, "ok"], `${status}`);
    assert.deepEqual(calls.slice(0, 2), ["/keys @1 a", "/mset @1 b,,c"]);
    assert.deepEqual(calls.slice(2).sort(), ["/keys @1 ", "/keys @1 b", "/keys @1 c"]);
  }
});

Deno.test("GatheredWrites resends the writes of one key of a refused /mset one after the other", async () => {
  const sent: string[] = [];
  const { writes, release } = gathered(async (path, items) => {
    if (path === "/mset") throw new CacheError(400, "a key is not valid");
    const { key, value } = items[0];
    // The first is slow.
    await new Promise((resolve) => setTimeout(resolve, value === "1" ? 20 : 0));
    sent.push(`${key}=${value}`);
  });
  const all = [write("first"), write("k", "1"), write("k", "2")].map((w) => writes.write(NODE, w));
  release();
  await Promise.all(all);
  assert.deepEqual(sent, ["first=v", "k=1", "k=2"], "the last write of k is the last stored");
});

Deno.test("GatheredWrites fails the writes queued behind a node unreached at once, unsent", async () => {
  const { writes, calls, release } = gathered(() => {
    throw new CacheError(0, "http://a:1 could not be reached: connection reset");
  });
  const all = ["a", "b", "c"].map((key) => writes.write(NODE, write(key)));
  release();
  assert.deepEqual(await outcomes(all), [0, 0, 0]);
  assert.deepEqual(calls, ["/keys @1 a"], "b and c were not sent: they go their own way");
});

Deno.test("GatheredWrites fails every write of an /mset refused with 421, to go by a newer ring", async () => {
  const { writes, calls, release } = gathered(msetFails(421));
  const all = ["a", "b", "c"].map((key) => writes.write(NODE, write(key)));
  release();
  assert.deepEqual(await outcomes(all), ["ok", 421, 421]);
  assert.deepEqual(calls, ["/keys @1 a", "/mset @1 b,c"]);
});

Deno.test("GatheredWrites stores the writes of a failed /mset that every backup took", async () => {
  const { writes, calls, release } = gathered(msetFails(502, { unreplicated: ["c"] }));
  const all = ["a", "b", "c", "d"].map((key) => writes.write(NODE, write(key)));
  release();
  assert.deepEqual(await outcomes(all), ["ok", "ok", 502, "ok"]);
  assert.deepEqual(calls, ["/keys @1 a", "/mset @1 b,c,d"], "nothing sent again");
});

Deno.test("GatheredWrites gives every write of a failed /mset naming no keys its error", async () => {
  for (const status of [500, 502, 503, 504]) {
    const { writes, calls, release } = gathered(msetFails(status));
    const all = ["a", "b", "c"].map((key) => writes.write(NODE, write(key)));
    release();
    assert.deepEqual(await outcomes(all), ["ok", status, status], `${status}`);
    assert.equal(calls.length, 2, "nothing sent again: the primary may have the writes");
  }
});

Deno.test("GatheredWrites sends writes routed by different rings alone, each with its own epoch", async () => {
  const { writes, calls, release } = gathered();
  const all = [write("a", "v", 1), write("b", "v", 1), write("c", "v", 2)].map((w) =>
    writes.write(NODE, w)
  );
  release();
  await Promise.all(all);
  assert.deepEqual(calls, ["/keys @1 a", "/keys @1 b", "/keys @2 c"]);
});

Deno.test("GatheredWrites asks for a version above each write's floor, a batch's highest", async () => {
  const floors: string[] = [];
  const { promise: held, resolve: release } = Promise.withResolvers<void>();
  const callNode = async (_node: string, path: string, init: CallInit) => {
    floors.push(`${path} ${init.headers?.["x-version-above"]}`);
    if (floors.length === 1) await held;
  };
  const writes = new GatheredWrites({ callNode });
  const first = writes.write(NODE, { ...write("a"), floor: 500 });
  const batch = [700, undefined, 600].map((floor) =>
    writes.write(NODE, floor === undefined ? write("b") : { ...write("c"), floor })
  );
  release();
  assert.deepEqual(await outcomes([first, ...batch]), ["ok", "ok", "ok", "ok"]);
  assert.deepEqual(floors, ["/keys 500", "/mset 700"]);
  await writes.write(NODE, write("d"));
  assert.equal(floors.at(-1), "/keys undefined", "none without one");
});
