// The cluster's counters with replication: each distinct key once in `keys`, every copy in
// `copies`.

import assert from "node:assert/strict";
import { inProcessCluster } from "../../tests/support/in_process.ts";

const REPLICAS = 2;
const keys = Array.from({ length: 50 }, (_, i) => `user:${i}`);
const mset: RequestInit = {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ items: keys.map((key) => ({ key, value: `v-${key}` })) }),
};

interface NodeEntry {
  address: string;
  keys: number;
  primaryKeys: number;
}

/**
 * A cluster of `count` nodes holding `keys`, written through the master, on both owners; a node
 * whose address is put in `down` answers nothing from then on.
 */
async function replicated(count: number) {
  const down = new Set<string>();
  const beforeCall = (url: URL) =>
    down.has(url.origin) ? Promise.reject(new TypeError("Connection refused")) : Promise.resolve();
  const cluster = inProcessCluster(count, 1024, { replicas: REPLICAS, beforeCall });
  assert.equal((await cluster.master.request("/mset", mset)).status, 204); // on the primaries
  // The in-process nodes do not replicate: the backups get their copies as a primary would send.
  for (const key of keys) {
    for (const backup of cluster.registry.ring.owners(key, REPLICAS).slice(1)) {
      cluster.stores.get(backup)!.set(key, `v-${key}`);
    }
  }
  return { ...cluster, down };
}

for (const count of [2, 3]) {
  Deno.test(`master /stats over ${count} nodes with 2 copies counts keys once and every copy`, async () => {
    const { master, registry } = await replicated(count);
    const stats = await (await master.request("/stats")).json();
    assert.equal(stats.keys, keys.length);
    assert.equal(stats.copies, REPLICAS * keys.length);
    assert.equal(stats.nodes.length, count);
    for (const node of stats.nodes as NodeEntry[]) {
      const primaries = keys.filter((key) => registry.ring.owner(key) === node.address);
      const held = keys.filter((key) => registry.ring.owners(key, REPLICAS).includes(node.address));
      assert.ok(primaries.length > 0 && primaries.length < held.length, node.address);
      assert.equal(node.primaryKeys, primaries.length, `${node.address} primary keys`);
      assert.equal(node.keys, held.length, `${node.address} copies`);
    }
  });
}

Deno.test("master /stats leaves a node that does not answer out of keys and copies", async () => {
  const { master, registry, stores, down } = await replicated(3);
  const gone = registry.ring.nodes[1];
  down.add(gone);
  const stats = await (await master.request("/stats")).json();
  assert.match(stats.nodes.find((n: NodeEntry) => n.address === gone).error, /unreachable/);
  // Its primary keys are left out of keys, though their backups still hold them.
  const primaries = keys.filter((key) => registry.ring.owner(key) === gone).length;
  assert.equal(stats.keys, keys.length - primaries);
  assert.equal(stats.copies, REPLICAS * keys.length - stores.get(gone)!.stats().keys);
});

Deno.test("master /dashboard/state totals show distinct keys and copies apart", async () => {
  const { master } = await replicated(3);
  const state = await (await master.request("/dashboard/state")).json();
  assert.equal(state.totals.keys, keys.length);
  assert.equal(state.totals.copies, REPLICAS * keys.length);
  const nodes: NodeEntry[] = state.nodes.map((n: { stats: NodeEntry }) => n.stats);
  assert.equal(nodes.reduce((sum, n) => sum + n.primaryKeys, 0), keys.length);
  assert.equal(nodes.reduce((sum, n) => sum + n.keys, 0), REPLICAS * keys.length);
});

Deno.test("master /stats and /dashboard/state asked at once share two gatherings", async () => {
  let held = () => {};
  const holding = new Promise<void>((resolve) => held = resolve);
  const beforeCall = (url: URL) => url.pathname === "/stats" ? holding : Promise.resolve();
  const { master, calls } = inProcessCluster(3, 1024, { beforeCall });
  const statsCalls = () => calls.filter((call) => call.endsWith("/stats")).length;
  const first = master.request("/stats");
  await new Promise((resolve) => setTimeout(resolve, 5)); // out, held at the nodes
  const asked = [
    ...Array.from({ length: 20 }, () => master.request("/stats")),
    ...Array.from({ length: 5 }, () => master.request("/dashboard/state")),
  ];
  held();
  for (const answer of await Promise.all([first, ...asked])) assert.equal(answer.status, 200);
  assert.equal(statsCalls(), 6, "the first gathering, and one for the calls made meanwhile");
  assert.equal((await master.request("/stats")).status, 200);
  assert.equal(statsCalls(), 9);
});

Deno.test("master /stats asked after a write sees it, though a gathering was out", async () => {
  let held = "";
  let release = () => {};
  const beforeCall = (url: URL) =>
    url.origin === held && url.pathname === "/stats"
      ? new Promise<void>((resolve) => release = resolve)
      : Promise.resolve();
  const { master, registry } = inProcessCluster(2, 1024, { beforeCall });
  const [a, b] = registry.ring.nodes;
  const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) =>
    registry.ring.owner(k) === a
  )!;
  await (await master.request("/stats")).body?.cancel(); // nodes mark their ring's slots
  held = b;
  const before = master.request("/stats"); // a answers at once, before the write; b is held
  await new Promise((resolve) => setTimeout(resolve, 5));
  held = "";
  const write = { ...mset, body: JSON.stringify({ items: [{ key, value: "v" }] }) };
  assert.equal((await master.request("/mset", write)).status, 204);
  const after = master.request("/stats");
  release();
  assert.equal((await (await before).json()).keys, 0);
  assert.equal((await (await after).json()).keys, 1);
});
