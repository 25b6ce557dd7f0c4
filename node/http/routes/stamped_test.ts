// The node's `POST /stamped`, through the hot path and through the app: the same answers and the
// same values stored, a large body's values read from its bytes.

import assert from "node:assert/strict";
import { toResponse } from "@cache/http1/answer";
import { silentLogger as log } from "@cache/log/log";
import { readStampedBody } from "@cache/protocol/set_body";
import { EPOCH_HEADER } from "@cache/protocol/wire";
import { Ring } from "@cache/ring/ring";
import { Replicator } from "../../cluster/replicator.ts";
import { Writer } from "../../cluster/writer.ts";
import { Store } from "../../store/store.ts";
import { createApp } from "../app.ts";

const nodes = ["http://a:1", "http://b:1", "http://c:1"];
const ring = new Ring(nodes);
const EPOCH = 4;
const NOW_MS = 1_000_000;
const MAX_VALUE_BYTES = 1 << 20;

/** Keys `nodes[0]` owns at R=2, as primary or backup. */
const owned = Array.from({ length: 40 }, (_, i) => `k${i}`)
  .filter((key) => ring.owners(key, 2).includes(nodes[0]));

/** Node `nodes[0]` at ring `EPOCH`: its app and store. */
function node() {
  const source = {
    view: { term: 0, epoch: EPOCH, replicas: 2, nodes, joined: {}, settled: true },
    ring,
    leaseMs: 1000,
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 1000,
  };
  const replicator = new Replicator({
    self: nodes[0],
    ring: source,
    fetch: () => Promise.reject(new Error("no peer calls")),
    timeoutMs: 100,
    now: () => NOW_MS,
  });
  const store = new Store({ now: () => NOW_MS });
  const writer = new Writer(store, replicator, MAX_VALUE_BYTES);
  const app = createApp({
    store,
    writer,
    maxValueBytes: MAX_VALUE_BYTES,
    notReady: () => undefined,
    log,
    now: () => NOW_MS,
    ringEpoch: () => EPOCH,
  });
  return { app, store };
}

function post(body: string): RequestInit {
  const headers = {
    "content-type": "application/json",
    "content-length": String(new TextEncoder().encode(body).byteLength),
    [EPOCH_HEADER]: String(EPOCH),
  };
  return { method: "POST", headers, body };
}

Deno.test("POST /stamped stores the same through the hot path as through the app, large bodies too", async () => {
  const byApp = node();
  const byHot = node();
  const plain = "é0123456789abcdef".repeat(1200); // past the bytes reader's 16 KiB
  const item = (i: number, value: string, extra: Record<string, unknown> = {}) => ({
    key: owned[i],
    value,
    version: 1000 + i,
    ...extra,
  });
  const bodies = [
    { items: [item(0, "small"), item(1, "ttl", { ttl: 60 })] },
    { items: [item(2, plain), item(3, plain.slice(1), { ttl: 5 })] }, // read from the bytes
    { items: [item(4, plain + '"\n'), item(5, plain)] }, // an escape: JSON.parse's
    { items: [item(6, plain, { unknown: 1 })] }, // dropped by the schema
    { items: [item(0, "older", { version: 999 })] }, // stale where this node is the primary
    { items: [item(7, plain, { version: 0 })] }, // the schema's 400, nothing written
    { items: [item(8, plain, { version: 1.5 })] },
  ];
  // The plain large body is one the bytes reader takes, the escaped one one it leaves to JSON.
  const reads = (body: unknown) => readStampedBody(new TextEncoder().encode(JSON.stringify(body)));
  assert.ok(reads(bodies[1]));
  assert.equal(reads(bodies[2]), undefined);
  for (const body of bodies) {
    const text = JSON.stringify(body);
    const app = await byApp.app.request("/stamped", post(text));
    const answer = byHot.app.hot.serve(new Request("http://a:1/stamped", post(text)));
    assert.ok(answer, "the hot path takes it");
    const hot = toResponse(await answer);
    assert.equal(hot.status, app.status, text.slice(0, 80));
    assert.equal(await hot.text(), await app.text(), text.slice(0, 80));
  }
  for (const key of owned.slice(0, 9)) {
    assert.deepEqual(byHot.store.get(key), byApp.store.get(key), key);
  }
  assert.equal(byHot.store.get(owned[2])?.value, plain);
  assert.equal(byHot.store.get(owned[3])?.ttlMs, 5000);
  assert.equal(byHot.store.get(owned[5])?.value, plain);
  assert.equal(byHot.store.get(owned[7]), undefined);
});
