// Replication, failover and rebalancing on real processes: no acknowledged write is lost.

import assert from "node:assert/strict";
import { CacheClient, CacheError } from "@cache/client";
import { Ring } from "@cache/ring/ring";
import { EPOCH_HEADER } from "@cache/protocol/wire";
import { startNodeRelay } from "../support/node_relay.ts";
import type { ProcessService } from "../support/process.ts";
import {
  freePort,
  get,
  nodesOf,
  Processes,
  put,
  ready,
  ringSettled,
  settled,
  settledCluster,
  waitFor,
} from "../support/process.ts";

const FAILURE_TIMEOUT_MS = 600;

/** Master flags for these tests: a short failure timeout and `replicas` copies of each key. */
const failover = (replicas: number) => [
  "--failure-timeout-ms",
  String(FAILURE_TIMEOUT_MS),
  "--replicas",
  String(replicas),
];

async function post(url: string, body: unknown): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Stores `value` under every key of `keys` through `master`, in one `/mset`. */
async function storeAll(master: string, keys: string[], value: string): Promise<void> {
  const answer = await post(`${master}/mset`, { items: keys.map((key) => ({ key, value })) });
  assert.equal(answer.status, 204, await answer.text());
}

/**
 * Stores 300 keys named `prefix` and a number through `master` (at R=1, on `nodes` as settled),
 * and returns those `owner` holds: more than 50.
 */
async function storeOwned(
  master: string,
  nodes: ProcessService[],
  owner: ProcessService,
  prefix: string,
): Promise<string[]> {
  const keys = Array.from({ length: 300 }, (_, i) => `${prefix}${i}`);
  const items = keys.map((key) => ({ key, value: `v-${key}` }));
  assert.equal((await post(`${master}/mset`, { items })).status, 204);
  const ring = new Ring(nodes.map((node) => node.address));
  const owned = keys.filter((key) => ring.owner(key) === owner.address);
  assert.ok(owned.length > 50);
  return owned;
}

/** Asserts that `master` reads every key of `keys`, each with `value` when one is given. */
async function assertAllStored(master: string, keys: string[], value?: string): Promise<void> {
  const answer = await post(`${master}/mget`, { keys });
  const found = await answer.json();
  assert.equal(answer.status, 200, JSON.stringify(found)); // the reason, should it fail
  assert.deepEqual(found.missing, []);
  if (value === undefined) return;
  assert.deepEqual(found.items.map((item: { value: string }) => item.value), keys.map(() => value));
}

/**
 * Writes numbered values to a rotating set of keys until stopped, remembering the last value the
 * master acknowledged for each key; a reader checks them.
 */
class Workload {
  readonly acked = new Map<string, number>();
  readonly #master: string;
  #stopped = false;
  #running: Promise<void> | undefined;
  writes = 0;
  failedWrites = 0;

  constructor(master: string, readonly keys = 300) {
    this.#master = master;
  }

  start(): void {
    this.#running = (async () => {
      for (let i = 0; !this.#stopped; i++) {
        const key = `w${i % this.keys}`;
        try {
          const answer = await post(`${this.#master}/keys`, { key, value: String(i) });
          await answer.body?.cancel();
          this.writes++;
          if (answer.status === 204) this.acked.set(key, i);
          else this.failedWrites++;
        } catch {
          this.failedWrites++;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /**
   * Reads every acknowledged key: lost if missing, stale if older than its last acknowledgement.
   */
  async check(): Promise<{ lost: string[]; stale: string[]; errors: number }> {
    const lost: string[] = [];
    const stale: string[] = [];
    let errors = 0;
    for (const [key, value] of this.acked) {
      try {
        const found = await get(this.#master, key);
        if (found === undefined) lost.push(key);
        else if (Number(found) < value) stale.push(`${key}: ${found} < ${value}`);
      } catch {
        errors++;
      }
    }
    return { lost, stale, errors };
  }
}

Deno.test("R=2: two nodes killed one after the other lose no acknowledged write", async () => {
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(2));
    const load = new Workload(master.url);
    load.start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nodes[0].stop("SIGKILL");
    await waitFor(async () => (await nodesOf(master.url)).some((n) => n.status === "down"), "down");
    await settled(master.url); // re-replicated: two copies again
    await new Promise((resolve) => setTimeout(resolve, 300));
    await nodes[1].stop("SIGKILL");
    await waitFor(
      async () => (await nodesOf(master.url)).filter((n) => n.status === "down").length === 2,
      "second node down",
    );
    await settled(master.url);
    await load.stop();
    const result = await load.check();
    console.log(
      `  ${load.writes} writes, ${load.acked.size} keys acknowledged, ${load.failedWrites} ` +
        `refused during failover; lost ${result.lost.length}, stale ${result.stale.length}`,
    );
    assert.deepEqual(result, { lost: [], stale: [], errors: 0 });
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=2: a killed node's keys are read from backups by GET and /mget before it is down", async () => {
  const processes = new Processes();
  try {
    // A long failure timeout: the killed node stays in the ring, so reads must get past it.
    const args = ["--failure-timeout-ms", "30000", "--replicas", "2"];
    const { master, nodes } = await settledCluster(processes, 3, args);
    const items = Array.from({ length: 300 }, (_, i) => ({ key: `f${i}`, value: `v${i}` }));
    assert.equal((await post(`${master.url}/mset`, { items })).status, 204);
    await nodes[0].stop("SIGKILL");
    const keys = [...items.map((item) => item.key), "never-written"];
    const found = await (await post(`${master.url}/mget`, { keys })).json();
    // Each item as written, with its version: the same string on every read of that write.
    const versions = found.items.map((item: { version: string }) => item.version);
    assert.ok(versions.every((version: unknown) => typeof version === "string"));
    assert.deepEqual(found, {
      items: items.map((item, i) => ({ ...item, version: versions[i] })),
      missing: ["never-written"],
    });
    for (const { key, value } of items.slice(0, 30)) {
      assert.equal(await get(master.url, key), value);
    }
    assert.ok((await nodesOf(master.url)).every((node) => node.status === "up"), "still in ring");
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=2: every read answers while a node joins after another was marked down", async () => {
  // The ring the keys move from still names the node marked down; a key its new owner lacked yet
  // was asked of it too, and its open breaker failed the read (503) for seconds.
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(2));
    const items = Array.from({ length: 300 }, (_, i) => ({ key: `j${i}`, value: `v${i}` }));
    assert.equal((await post(`${master.url}/mset`, { items })).status, 204);
    const keys = [...items.map((item) => item.key), "never-written"];
    const failures: string[] = []; // reads failed for the node marked down
    let rounds = 0;
    const readAll = async () => {
      const answer = await post(`${master.url}/mget`, { keys });
      const found = await answer.json();
      // (With a 600 ms failure timeout, a busy master may let a live node's lease lapse: 503.)
      if (answer.status !== 200 && String(found.error).includes(nodes[0].address)) {
        failures.push(`${answer.status} ${found.error}`);
      } else if (answer.status === 200) assert.deepEqual(found.missing, ["never-written"]);
      rounds++;
    };
    // Read all along: the killed node's breaker opens, as a client's reads would open it. (A read
    // spanning the marking down itself may fail with that breaker's 503: a known race, apart.)
    await nodes[0].stop("SIGKILL");
    while (!(await nodesOf(master.url)).some((node) => node.status === "down")) await readAll();
    failures.length = 0;
    // Joined before the keys the marking down moved are all in place: both rings are read.
    const joining = processes.node(master.url);
    do await readAll(); while ((await nodesOf(master.url)).length < 4);
    await joining;
    do await readAll(); while (
      !(await nodesOf(master.url)).every((node) => node.status === "down" || node.synced)
    );
    assert.deepEqual(failures, [], `${failures.length} of ${rounds} reads failed`);
  } finally {
    await processes.stopAll();
  }
});

for (
  const [how, apartMs, newFirst] of [
    ["one after another", 900, false],
    ["after a new node joined", 300, true],
  ] as const
) {
  Deno.test(`R=2: nodes back ${how} after a restarted master's wait lose and age nothing`, async () => {
    // The master learnt no ring in its wait, then took each node back as a new member with what
    // it held: reads missed keys the later ones held (404), and answered values older than writes
    // acknowledged on the earlier ones. Told to rejoin empty instead, they lost every key they
    // alone held.
    const processes = new Processes();
    try {
      const { master, nodes } = await settledCluster(processes, 3, failover(2));
      const keys = Array.from({ length: 60 }, (_, i) => `late${i}`);
      await storeAll(master.url, keys, "before");
      await master.stop("SIGKILL");
      for (const node of nodes) Deno.kill(node.pid, "SIGSTOP");
      // It waits the default 3 s for them, then each back gives the others as long again.
      await processes.master({ at: master.url, args: [...failover(2), "--recovery-ms", "3000"] });
      const written = new Set<string>(); // keys whose "after" was acknowledged
      const tried = new Set<string>(); // and those it was sent to: "after" may have been applied
      const wrong: string[] = [];
      // Until a node of the last ring is back, the master cannot know the keys it held.
      let known = !newFirst;
      const check = async () => {
        const key = keys[written.size % keys.length];
        tried.add(key);
        if (await put(master.url, key, "after") === 204) written.add(key);
        const answer = await post(`${master.url}/mget`, { keys });
        if (answer.status !== 200) return; // not available yet: allowed
        const found = await answer.json();
        if (known) { for (const key of found.missing) wrong.push(`${key} missing`); }
        for (const { key, value } of found.items) {
          const maybe = tried.has(key) && !written.has(key) && value === "after";
          if (value !== (written.has(key) ? "after" : "before") && !maybe) {
            wrong.push(`${key} read ${value}`);
          }
        }
      };
      const during = async (ms: number) => {
        const until = Date.now() + ms;
        while (Date.now() < until) await check();
      };
      if (newFirst) {
        await processes.node(master.url);
        await during(apartMs);
      }
      for (const node of nodes) {
        Deno.kill(node.pid, "SIGCONT");
        if (!known) {
          await waitFor(async () => (await nodesOf(master.url)).length > 1, "an old node back");
          known = true;
        }
        await during(apartMs);
      }
      await settled(master.url);
      await check();
      assert.deepEqual([...new Set(wrong)], []);
      assert.ok(written.size > 0, "writes were taken");
    } finally {
      await processes.stopAll();
    }
  });
}

Deno.test("R=2: a write its full primary refused is not read from the backup that took a copy", async () => {
  const processes = new Processes();
  try {
    // A long failure timeout: the killed primary stays in the ring, so reads go to its backup.
    const master = await processes.master({
      args: ["--failure-timeout-ms", "30000", "--replicas", "2"],
    });
    const full = await processes.node(master.url, [
      "--eviction",
      "noeviction",
      "--max-memory",
      "8kb",
    ]);
    await Promise.all([processes.node(master.url), processes.node(master.url)]);
    await waitFor(async () => (await nodesOf(master.url)).length === 3, "3 nodes registered");
    await settled(master.url);
    const ring = new Ring((await nodesOf(master.url)).map((node) => node.address));
    // Keys whose primary is the small node: their backups have room, so each write's copy sent to
    // every owner at once lands on the backup while the primary refuses it.
    let refused: string | undefined;
    for (let i = 0; refused === undefined && i < 1000; i++) {
      const key = `full${i}`;
      if (ring.owner(key) !== full.url) continue;
      const answer = await post(`${master.url}/keys`, { key, value: "v".repeat(100) });
      const body = await answer.text();
      if (answer.status === 507) refused = key;
      else assert.equal(answer.status, 204, body);
    }
    assert.ok(refused, "the primary never filled");
    // A direct client's write goes to every owner itself, then again to the primary.
    const direct = Array.from({ length: 1000 }, (_, i) => `direct${i}`)
      .find((key) => ring.owner(key) === full.url)!;
    const cache = await CacheClient.connect(master.url, { mode: "direct" });
    try {
      const error = await cache.set(direct, "v".repeat(100)).then(() => undefined, (e) => e);
      assert.ok(error instanceof CacheError && error.status === 507, String(error));
    } finally {
      cache.close();
    }
    await full.stop("SIGKILL");
    for (const key of [refused, direct]) {
      assert.equal(await get(master.url, key), undefined, `refused write of ${key} readable`);
    }
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=2: a copy only a backup took, its sender gone, does not hide later writes", async () => {
  const processes = new Processes();
  try {
    const master = await processes.master({ args: ["--replicas", "2"] });
    await Promise.all([1, 2, 3].map(() => processes.node(master.url)));
    await waitFor(async () => (await nodesOf(master.url)).length === 3, "3 nodes registered");
    await settled(master.url);
    await ringSettled(master.url);
    await new Promise((resolve) => setTimeout(resolve, 500)); // nodes hear it with a heartbeat
    const view = await (await fetch(`${master.url}/ring`)).json();
    const key = "orphan";
    const [primary, backup] = new Ring(view.nodes).owners(key, 2);
    // A sender whose clock runs 2 s ahead reached the backup only, then went away.
    const copy = await fetch(`${backup}/stamped`, {
      method: "POST",
      headers: { "content-type": "application/json", [EPOCH_HEADER]: String(view.epoch) },
      body: JSON.stringify({
        items: [{ key, value: "orphan", version: (Date.now() + 2000) * 1000 }],
      }),
    });
    assert.deepEqual([copy.status, await copy.json()], [200, { stale: [] }]);
    // Later writes through the master, whose versions come from clocks 2 s behind that copy's.
    for (const value of ["acked", "later"]) {
      const answer = await post(`${master.url}/keys`, { key, value });
      assert.equal(answer.status, 204, await answer.text());
      assert.equal(await get(backup, key), value, `${value} on the backup too`);
      assert.equal(await get(primary, key), value);
    }
    const deleted = await fetch(`${master.url}/keys/${key}`, { method: "DELETE" });
    assert.equal(deleted.status, 204, await deleted.text());
    assert.equal(await get(backup, key), undefined, "deleted on the backup too");
  } finally {
    await processes.stopAll();
  }
});

Deno.test("joining a 4th node under load: no miss, and each key on exactly its R owners", async () => {
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(2));
    const keys = Array.from({ length: 1000 }, (_, i) => ({ key: `j${i}`, value: `v${i}` }));
    for (let i = 0; i < keys.length; i += 500) {
      assert.equal(
        (await post(`${master.url}/mset`, { items: keys.slice(i, i + 500) })).status,
        204,
      );
    }
    let reads = 0;
    const misses: string[] = [];
    let reading = true;
    const reader = (async () => {
      for (let i = 0; reading; i = (i + 7) % keys.length) {
        const found = await get(master.url, keys[i].key).catch(() => "error");
        reads++;
        if (found !== keys[i].value) misses.push(`${keys[i].key}: ${found}`);
      }
    })();
    const joined = await processes.node(master.url);
    await waitFor(async () => (await nodesOf(master.url)).length === 4, "4th node registered");
    await settled(master.url);
    await new Promise((resolve) => setTimeout(resolve, 200));
    reading = false;
    await reader;
    assert.deepEqual(misses, [], `${misses.length} of ${reads} reads missed`);

    const view = await (await fetch(`${master.url}/ring`)).json();
    const ring = new Ring(view.nodes);
    const all = [...nodes, joined];
    let onNew = 0;
    for (const { key } of keys) {
      const owners = ring.owners(key, view.replicas);
      for (const node of all) {
        const held = (await get(node.url, key)) !== undefined;
        assert.equal(held, owners.includes(node.address), `${key} on ${node.address}`);
        if (held && node === joined) onNew++;
      }
    }
    const ideal = keys.length * view.replicas / 4;
    console.log(
      `  join: ${onNew} copies moved to the new node, ideal ${ideal} (R/N of the copies)`,
    );
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=1: a SIGTERM'd node hands over its third of 10,000 keys, all still readable", async () => {
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(1));
    const items = Array.from({ length: 10_000 }, (_, i) => ({ key: `t${i}`, value: `v${i}` }));
    for (let i = 0; i < items.length; i += 1000) {
      assert.equal(
        (await post(`${master.url}/mset`, { items: items.slice(i, i + 1000) })).status,
        204,
      );
    }
    const stats = await (await fetch(`${nodes[0].url}/stats`)).json();
    console.log(
      `  leaving node holds ${stats.keys} of ${items.length} keys (ideal ${items.length / 3})`,
    );
    assert.ok(stats.keys > 2000, "the leaving node holds about a third");
    assert.equal(await nodes[0].stop("SIGTERM"), 0);
    assert.ok(nodes[0].logs.some((line) => line.msg === "keys handed over"));
    let missing = 0;
    for (let i = 0; i < items.length; i += 1000) {
      const keys = items.slice(i, i + 1000).map((item) => item.key);
      const found = await (await post(`${master.url}/mget`, { keys })).json();
      missing += found.missing.length;
    }
    assert.equal(missing, 0);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=1: a leave whose keys the others, full under noeviction, refuse says so as an error", async () => {
  // The keys go with the process: the log must not read as a routine timeout.
  const processes = new Processes();
  try {
    const full = [
      "--max-memory",
      "2mb",
      "--eviction",
      "noeviction",
      "--handover-timeout-ms",
      "1500",
    ];
    const { master, nodes } = await settledCluster(processes, 2, failover(1), full);
    const value = "x".repeat(10_000);
    let stored = 0;
    for (let i = 0; i < 400; i++) {
      const answer = await post(`${master.url}/keys`, { key: `full${i}`, value });
      await answer.body?.cancel();
      if (answer.status === 204) stored++;
      else assert.equal(answer.status, 507);
    }
    assert.ok(stored > 150 && stored < 400, `${stored} stored: both nodes near full`);
    const [leaving] = nodes;
    await leaving.stop("SIGTERM");
    const line = leaving.logs.find((line) => line.msg === "handover timed out");
    assert.ok(line, "handover timed out");
    assert.equal(line.level, "error");
    assert.ok(Number(line.keysStillHere) > 0, JSON.stringify(line));
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=2: nodes full under noeviction take a leaver's keys once a node with room joins", async () => {
  // Each full node had to take keys from another before it could drop its own, and none took a
  // batch that held one new key: the ring stayed unsettled, with 5xx by the thousand, for good.
  const processes = new Processes();
  try {
    const full = ["--max-memory", "1mb", "--eviction", "noeviction"];
    const { master, nodes } = await settledCluster(processes, 4, failover(2), full);
    const value = "v".repeat(200);
    const keys: string[] = [];
    const filled = async () => {
      const stats = await Promise.all(nodes.map(async (node) => {
        return await (await fetch(`${node.url}/stats`)).json();
      }));
      const sum = (field: string) => stats.reduce((total, one) => total + one[field], 0);
      return sum("bytes") / sum("maxBytes");
    };
    while (await filled() < 0.8) {
      const batch = Array.from({ length: 250 }, (_, i) => `full${keys.length + i}`);
      await storeAll(master.url, batch, value);
      keys.push(...batch);
    }
    // Three nodes cannot hold it all: they fill up taking the leaver's keys, then a fourth joins.
    const leaving = nodes[0].stop("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await processes.node(master.url, full);
    await leaving;
    await ringSettled(master.url, 20_000);
    for (let i = 0; i < keys.length; i += 1000) {
      await assertAllStored(master.url, keys.slice(i, i + 1000), value);
    }
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=1: a node SIGTERM'd while a restarted master learns the ring still hands over", async () => {
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(1));
    const [, leaving, killed] = nodes;
    const leavingKeys = await storeOwned(master.url, nodes, leaving, "r");

    // The master dies, and one node with it: the restarted master waits for that node, answering
    // every heartbeat 503 until its recovery time is up.
    await master.stop("SIGKILL");
    await killed.stop("SIGKILL");
    const restarting = processes.master({
      at: master.url,
      args: [...failover(1), "--recovery-ms", "3000"],
    });
    await waitFor(async () => {
      try {
        const answer = await fetch(`${master.url}/ring`);
        await answer.body?.cancel();
        return answer.status === 503;
      } catch {
        return false; // not listening yet
      }
    }, "the restarted master is recovering");
    assert.equal(await leaving.stop("SIGTERM"), 0);
    assert.ok(leaving.logs.some((line) => line.msg === "keys handed over"), "handed over");
    await restarting; // recovered: its ring is the first node alone
    await ready(nodes[0].url); // its lease, lapsed while the master recovered, given again
    await assertAllStored(master.url, leavingKeys);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=1: a node SIGTERM'd while its master is down waits for it to restart, and hands over", async () => {
  // A restarting master refuses calls for a moment (a crashed one restarted, a pod rescheduled):
  // a node that took that for no master at all exited at once, its keys with it.
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(1));
    const [, leaving] = nodes;
    const leavingKeys = await storeOwned(master.url, nodes, leaving, "d");

    await master.stop("SIGKILL");
    const left = leaving.stop("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 1500)); // refused meanwhile
    // The default wait for the ring's nodes: their retries have backed off past the tests' short
    // one, and a node not back in time would be told to rejoin empty, the keys it took with it.
    const args = [...failover(1), "--recovery-ms", "3000"];
    const again = await processes.master({ at: master.url, args });
    assert.equal(await left, 0);
    assert.ok(leaving.logs.some((line) => line.msg === "keys handed over"), "handed over");
    await settled(again.url);
    for (const node of [nodes[0], nodes[2]]) await ready(node.url);
    await assertAllStored(again.url, leavingKeys);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("a node that never reached a master stops at once on SIGTERM: it holds no key", async () => {
  // A leave waits for a master up to the handover time (20 s), but without a ring there is nothing
  // to hand over.
  const processes = new Processes();
  try {
    const node = await processes.node(`http://127.0.0.1:${freePort()}`);
    const signalled = performance.now();
    assert.equal(await node.stop("SIGTERM"), 0);
    const tookMs = performance.now() - signalled;
    assert.ok(tookMs < 3000, `stopped ${Math.round(tookMs)} ms after SIGTERM`);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("churn: 20 joins, leaves and kills under load lose nothing acknowledged", async () => {
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(2));
    const live: ProcessService[] = [...nodes];
    const load = new Workload(master.url, 200);
    load.start();
    let seed = 42;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    const events: string[] = [];
    for (let step = 0; step < 20; step++) {
      const kind = live.length <= 2
        ? "join"
        : live.length >= 5
        ? "leave"
        : ["join", "leave", "kill"][random(3)];
      if (kind === "join") {
        live.push(await processes.node(master.url));
      } else {
        const [node] = live.splice(random(live.length), 1);
        await node.stop(kind === "kill" ? "SIGKILL" : "SIGTERM");
      }
      events.push(kind);
      await waitFor(async () => {
        const known = await nodesOf(master.url);
        return known.filter((n) => n.status === "up").length === live.length;
      }, `${kind} seen by the master`);
      await settled(master.url);
    }
    await load.stop();
    const result = await load.check();
    console.log(
      `  ${events.join(" ")}: ${load.writes} writes, ${load.acked.size} keys acknowledged; ` +
        `lost ${result.lost.length}, stale ${result.stale.length}`,
    );
    assert.deepEqual(result, { lost: [], stale: [], errors: 0 });
  } finally {
    await processes.stopAll();
  }
});

Deno.test("a join moves large values in calls the new node takes", async () => {
  const processes = new Processes();
  try {
    // 200 KB values at most: a node takes bodies of about 1.3 MB, less than 20 such values.
    const nodeArgs = ["--max-value-bytes", String(200 * 1024)];
    const { master } = await settledCluster(processes, 1, failover(1), nodeArgs);
    const value = "v".repeat(100 * 1024);
    for (let i = 0; i < 40; i++) {
      const answer = await post(`${master.url}/keys`, { key: `big${i}`, value });
      assert.equal(answer.status, 204);
    }
    await processes.node(master.url, nodeArgs);
    await waitFor(async () => (await nodesOf(master.url)).length === 2, "2 nodes");
    await settled(master.url, 10_000);
    for (let i = 0; i < 40; i++) assert.equal(await get(master.url, `big${i}`), value);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=2: a client's scan lists every key once while a node is killed under it", async () => {
  // The page after the kill failed (502, then 503 until the node was marked down), and the scan
  // ended there: the command line had printed 6,900 keys of 18,231.
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(2));
    const keys = Array.from({ length: 2000 }, (_, i) => `s${i}`);
    await storeAll(master.url, keys.slice(0, 1000), "v");
    await storeAll(master.url, keys.slice(1000), "v");
    const cache = await CacheClient.connect(master.url, { mode: "proxy" });
    try {
      const listed: string[] = [];
      for await (const key of cache.scan({ count: 50 })) {
        if (listed.push(key) === 50) await nodes[0].stop("SIGKILL");
      }
      assert.equal(listed.length, keys.length, "each key once");
      assert.deepEqual(listed.sort(), keys.sort());
    } finally {
      cache.close();
    }
  } finally {
    await processes.stopAll();
  }
});

/**
 * Fills nodes of 512 KB at R=2 through `cache`: 2,000 keys written then read, 4,000 more written,
 * each `scale` times. Reads reach the primary only: there the keys read stay recent, on the
 * backup they age. Resolves to the keys written.
 */
async function overfill(cache: CacheClient, scale = 1): Promise<string[]> {
  const keys: string[] = [];
  const write = async (prefix: string, count: number) => {
    for (let i = 0; i < count; i += 500) {
      const items = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({
        key: `${prefix}${i + j}`,
        value: "v".repeat(100),
      }));
      await cache.mset(items);
      keys.push(...items.map((item) => item.key));
    }
  };
  await write("a", 2000 * scale);
  for (let i = 0; i < 2000 * scale; i += 100) {
    await cache.mget(Array.from({ length: 100 }, (_, j) => `a${i + j}`));
  }
  await write("b", 4000 * scale);
  return keys;
}

/** What `cache` reads of `keys` now, undefined for a miss. */
async function readAll(cache: CacheClient, keys: string[]): Promise<(string | undefined)[]> {
  const values: (string | undefined)[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    values.push(...await cache.mget(keys.slice(i, i + 500)));
  }
  return values;
}

/**
 * A master at R=`replicas` and a node of each `--max-memory` of `bounds`, keys settled. Nodes are
 * marked down after 2 s without a heartbeat, not {@link FAILURE_TIMEOUT_MS}: with 5 nodes filling
 * up on 2 cores, one busy half a second came near the end of its lease, and its copies to backups
 * were cut short (1 write in 7 runs failed).
 */
async function sizedCluster(processes: Processes, replicas: number, bounds: string[]) {
  const args = ["--replicas", String(replicas), "--failure-timeout-ms", "2000"];
  const master = await processes.master({ args });
  const nodes: ProcessService[] = [];
  for (const bound of bounds) {
    nodes.push(await processes.node(master.url, ["--max-memory", bound]));
  }
  const registered = `${bounds.length} nodes registered`;
  await waitFor(async () => (await nodesOf(master.url)).length === bounds.length, registered);
  await settled(master.url);
  return { master, nodes };
}

/**
 * Of `keys`, how many `cache` reads, and those it misses that an owner in `ring` holds all the same
 * (its backups, as reads ask the primary).
 */
async function onOwnersAlone(
  cache: CacheClient,
  keys: string[],
  ring: string[],
  replicas: number,
): Promise<{ read: number; alone: string[] }> {
  const values = await readAll(cache, keys);
  const missing = keys.filter((_, i) => values[i] === undefined);
  const owners = new Ring(ring);
  const alone: string[] = [];
  for (let i = 0; i < missing.length; i += 100) {
    await Promise.all(
      missing.slice(i, i + 100).map(async (key) => {
        for (const node of owners.owners(key, replicas)) {
          const answer = await fetch(`${node}/replica/${encodeURIComponent(key)}`);
          const { value } = await answer.json();
          if (answer.status === 200 && value !== undefined) return void alone.push(key);
        }
      }),
    );
  }
  return { read: keys.length - missing.length, alone };
}

/** Waits until the last eviction notices have arrived: `nodes`' key counts stop changing. */
async function noticesArrived(nodes: ProcessService[]): Promise<void> {
  const counts = async () =>
    JSON.stringify(
      await Promise.all(nodes.map(async (node) => {
        return (await (await fetch(`${node.url}/stats`)).json()).keys;
      })),
    );
  await waitFor(async () => {
    const now = await counts();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return now === await counts();
  }, "the nodes' key counts settle");
}

Deno.test("R=2 under LRU: a key its primary evicted is gone from its backup too, so a scan lists only keys a GET finds", async () => {
  const processes = new Processes();
  let client: CacheClient | undefined;
  try {
    const { master } = await settledCluster(processes, 2, ["--replicas", "2"], [
      "--max-memory",
      "512kb",
    ]);
    const cache = client = await CacheClient.connect(master.url, { mode: "proxy" });
    // A primary evicts keys its backup keeps, unless the backup is told.
    await overfill(cache);
    const evicted = await Promise.all(
      (await nodesOf(master.url)).map(async (node) =>
        (await (await fetch(`${node.address}/stats`)).json()).evictions as number
      ),
    );
    assert.ok(evicted.every((n) => n > 0), `evictions per node: ${evicted}`);
    // Notices of evictions travel after the writes that caused them: the scan waits for them.
    let missing: string[] = [];
    await waitFor(async () => {
      const listed: string[] = [];
      for await (const key of cache.scan({ count: 1000 })) listed.push(key);
      missing = [];
      for (let i = 0; i < listed.length; i += 100) {
        const batch = listed.slice(i, i + 100);
        const values = await cache.mget(batch);
        batch.forEach((key, j) => values[j] === undefined && missing.push(key));
      }
      return missing.length === 0;
    }, "every key a scan lists is found").catch(() => {
      assert.fail(`${missing.length} listed keys not found, e.g. ${missing.slice(0, 5)}`);
    });
  } finally {
    client?.close();
    await processes.stopAll();
  }
});

Deno.test("R=2 under LRU: full nodes keep each key on both its owners or on neither", async () => {
  // Copies are never read, so they age first on backups: evicted there first, 1,374 of these 6,000
  // keys were on their primary alone, lost with it and read as missing while it was down.
  const processes = new Processes();
  let client: CacheClient | undefined;
  try {
    const { master } = await settledCluster(processes, 3, ["--replicas", "2"], [
      "--max-memory",
      "512kb",
    ]);
    const cache = client = await CacheClient.connect(master.url, { mode: "proxy" });
    const keys = await overfill(cache);
    const ring = new Ring((await (await fetch(`${master.url}/ring`)).json()).nodes);
    const held = async (node: string, key: string) => {
      const answer = await fetch(`${node}/replica/${encodeURIComponent(key)}`);
      const body = await answer.json();
      return answer.status === 200 && body.value !== undefined;
    };
    // Copies go as eviction notices reach them, after the writes that caused them.
    let halves: string[] = [];
    let kept = 0;
    await waitFor(
      async () => {
        halves = [];
        kept = 0;
        for (let i = 0; i < keys.length; i += 100) {
          await Promise.all(
            keys.slice(i, i + 100).map(async (key) => {
              const copies = await Promise.all(ring.owners(key, 2).map((node) => held(node, key)));
              if (copies[0] !== copies[1]) {
                halves.push(`${key} (${copies[0] ? "primary" : "backup"})`);
              } else if (copies[0]) kept++;
            }),
          );
        }
        return halves.length === 0;
      },
      "each key on both owners or neither",
      60_000,
    ).catch(() => {
      assert.fail(
        `${halves.length} of ${keys.length} keys on one owner, e.g. ${halves.slice(0, 5)}`,
      );
    });
    const evictions = (await (await fetch(`${master.url}/stats`)).json()).evictions;
    console.log(`  ${kept} of ${keys.length} keys on both owners, ${evictions} evictions`);
    assert.ok(kept > 1000 && evictions > 0, `${kept} keys kept, ${evictions} evictions`);
  } finally {
    client?.close();
    await processes.stopAll();
  }
});

Deno.test("R=2 under LRU: a key evicted before a small node is killed does not come back, and none read before is lost", async () => {
  // A node of 256 KB beside two of 4 MB keeps few keys of its own, evicted as soon as written: the
  // notice of an eviction could reach the backup before the copy did, which then stayed there
  // alone, and keys that read as missing came back when the backup took over (591 here).
  const processes = new Processes();
  let client: CacheClient | undefined;
  try {
    const { master, nodes } = await sizedCluster(processes, 2, ["256kb", "4mb", "4mb"]);
    const cache = client = await CacheClient.connect(master.url, { mode: "proxy" });
    const keys = await overfill(cache, 3);
    await noticesArrived(nodes);
    const before = await readAll(cache, keys);
    // Copies past their share went first: it kept keys of its own (none when copies always went
    // last).
    const { evictions, primaryKeys } = await (await fetch(`${nodes[0].url}/stats`)).json();
    assert.ok(evictions > 1000, `the small node evicted ${evictions} keys`);
    assert.ok(primaryKeys > 200, `the small node kept ${primaryKeys} keys of its own`);
    await nodes[0].stop("SIGKILL");
    await waitFor(async () => {
      const { nodes: ring } = await (await fetch(`${master.url}/ring`)).json();
      return !ring.includes(nodes[0].address);
    }, "the killed node out of the ring");
    await settled(master.url, 30_000);
    const after = await readAll(cache, keys);
    const back = keys.filter((_, i) => before[i] === undefined && after[i] !== undefined);
    const lost = keys.filter((_, i) => before[i] !== undefined && after[i] !== before[i]);
    const read = before.filter((value) => value !== undefined).length;
    console.log(`  ${read} of ${keys.length} keys read before the kill, ${back.length} came back`);
    assert.deepEqual(back.slice(0, 5), [], `${back.length} evicted keys came back`);
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} keys read before are lost or changed`);
  } finally {
    client?.close();
    await processes.stopAll();
  }
});

Deno.test("R=3 under LRU: after a kill and a leave, a key its backups hold is read from its new primary", async () => {
  // A node smaller than its peers evicts copies, telling no one (past its share, or while keys
  // move): once it became the key's primary (the primary killed or gone), the key was on its
  // backups alone, read as missing. Sent the key again, the node refused it after a move, as the
  // end of a state it had let go.
  const processes = new Processes();
  let client: CacheClient | undefined;
  try {
    const bounds = ["384kb", "512kb", "1mb", "1mb", "2mb"];
    const { master, nodes } = await sizedCluster(processes, 3, bounds);
    const cache = client = await CacheClient.connect(master.url, { mode: "proxy" });
    const keys = await overfill(cache, 2);
    await noticesArrived(nodes);
    // Out by `how`, the ring without it settled: every key read, and those missed looked up on
    // their owners.
    const remove = async (node: ProcessService, how: "SIGKILL" | "SIGTERM") => {
      nodes.splice(nodes.indexOf(node), 1);
      await node.stop(how);
      let ring: string[] = [];
      await waitFor(async () => {
        ring = (await (await fetch(`${master.url}/ring`)).json()).nodes;
        return !ring.includes(node.address);
      }, "the node out of the ring");
      await settled(master.url, 30_000);
      await noticesArrived(nodes);
      const { read, alone } = await onOwnersAlone(cache, keys, ring, 3);
      console.log(
        `  ${how}: ${read} of ${keys.length} keys read, ${alone.length} on backups alone`,
      );
      assert.ok(read > 1000, `${read} keys read after the ${how}`);
      // A few stay there, in races of the move with evictions (docs/replication.md): 37 at most in
      // 21 runs, 527-817 without the retaking.
      assert.ok(alone.length <= keys.length / 100, `${how}: ${alone.length} keys on backups alone`);
    };
    await remove(nodes[3], "SIGKILL");
    await remove(nodes[3], "SIGTERM"); // the 2 MB node
  } finally {
    client?.close();
    await processes.stopAll();
  }
});

Deno.test("R=2 under LRU: after a join under writes, a key its old owner holds is read from the new node", async () => {
  // An owner that evicted a key while keys moved passes its end on as a deletion; the new node,
  // sent that before the value the other owner held, refused the value: the key stayed there
  // alone, read as missing.
  const processes = new Processes();
  let client: CacheClient | undefined;
  try {
    const { master, nodes } = await sizedCluster(processes, 2, ["384kb", "512kb", "1mb", "1mb"]);
    const cache = client = await CacheClient.connect(master.url, { mode: "proxy" });
    const keys = await overfill(cache, 2);
    await noticesArrived(nodes);
    // Keys are written over while the node joins, so owners evict while keys move.
    let writing = true;
    const writes = Promise.all([0, 1, 2].map(async () => {
      while (writing) {
        const items = Array.from({ length: 200 }, () => ({
          key: keys[Math.floor(Math.random() * keys.length)],
          value: "w".repeat(100),
        }));
        await cache.mset(items).catch(() => {}); // refused while keys move: written or not
      }
    }));
    const joined = await processes.node(master.url, ["--max-memory", "1mb"]);
    nodes.push(joined);
    let ring: string[] = [];
    await waitFor(async () => {
      ring = (await (await fetch(`${master.url}/ring`)).json()).nodes;
      return ring.includes(joined.address);
    }, "the node in the ring");
    await settled(master.url, 30_000);
    writing = false;
    await writes;
    await settled(master.url, 30_000);
    await noticesArrived(nodes);
    const { read, alone } = await onOwnersAlone(cache, keys, ring, 2);
    console.log(`  ${read} of ${keys.length} keys read, ${alone.length} on one owner alone`);
    assert.ok(read > 1000, `${read} keys read after the join`);
    // 0-13 in 7 runs before the new node took such a value, 0-1 in 10 since: bounded, as the R=3
    // test is, at 1 %, so other races of the move with evictions do not fail it (the store's
    // tests show the taking itself).
    assert.ok(alone.length <= keys.length / 100, `${alone.length} keys on one owner alone`);
  } finally {
    client?.close();
    await processes.stopAll();
  }
});

Deno.test("R=2: a node restarted while no master answers serves none of its keys until it has a ring", async () => {
  // It once served as a node on its own: misses for stored keys, and writes and increments from
  // zero that the copies of the ring before then overwrote.
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(2));
    const [restarted] = nodes;
    const ring = await (await fetch(`${master.url}/ring`)).json();
    const keys = Array.from({ length: 60 }, (_, i) => `s${i}`);
    await storeAll(master.url, keys, "before");
    const owned = keys.filter((key) => new Ring(ring.nodes).owner(key) === restarted.address);
    assert.ok(owned.length > 5);

    await master.stop("SIGKILL");
    await restarted.stop("SIGKILL");
    const again = await processes.node(master.url, ["--port", new URL(restarted.url).port]);
    const routed = { [EPOCH_HEADER]: String(ring.epoch) }; // as a direct client routes by that ring
    const read = await fetch(`${again.url}/keys/${owned[0]}`, { headers: routed });
    assert.equal(read.status, 503, await read.text());
    const write = await fetch(`${again.url}/keys`, {
      method: "POST",
      headers: { ...routed, "content-type": "application/json" },
      body: JSON.stringify({ key: owned[1], value: "after" }),
    });
    assert.equal(write.status, 503, await write.text());
    const counted = await fetch(`${again.url}/keys/${owned[2]}/incr`, {
      method: "POST",
      headers: { ...routed, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(counted.status, 503, await counted.text());
    const readiness = await fetch(`${again.url}/ready`);
    assert.equal(readiness.status, 503, await readiness.text());

    // Back with a master, it takes its keys again: every one reads as acknowledged.
    await processes.master({ at: master.url, args: [...failover(2), "--recovery-ms", "2000"] });
    await settled(master.url);
    await assertAllStored(master.url, keys, "before");
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=2: every node stalled past the failure timeout at once keeps its keys", async () => {
  // As a client's reads can stall them all: none is marked down, so none comes back to be told to
  // drop what it holds. Stalled past its lease, each served nothing meanwhile.
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 2, failover(2));
    const keys = Array.from({ length: 50 }, (_, i) => `stall${i}`);
    await storeAll(master.url, keys, "kept");
    for (const node of nodes) Deno.kill(node.pid, "SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, FAILURE_TIMEOUT_MS * 3));
    assert.ok((await nodesOf(master.url)).every((node) => node.status === "up"), "none down");
    for (const node of nodes) Deno.kill(node.pid, "SIGCONT");
    await settled(master.url);
    for (const node of nodes) await ready(node.url); // each lease, lapsed while stalled, again
    await assertAllStored(master.url, keys, "kept");
    assert.ok(!nodes.some((node) => node.logs.some((line) => line.msg === "rejoining empty")));
  } finally {
    await processes.stopAll();
  }
});

Deno.test("a node without a lease answers /ready 503, and 200 again once it serves its keys", async () => {
  // A readiness probe must not call ready a node whose fence answers every key route with 503.
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 2, failover(2));
    await storeAll(master.url, ["lease0"], "kept");
    const [node] = nodes;
    Deno.kill(master.pid, "SIGSTOP"); // no heartbeat answered: the lease runs out
    try {
      await waitFor(async () => (await fetch(`${node.url}/ready`)).status === 503, "not ready");
      const readiness = await (await fetch(`${node.url}/ready`)).json();
      assert.match(readiness.error, /lease/);
      const read = await fetch(`${node.url}/keys/lease0`);
      assert.equal(read.status, 503, await read.text());
    } finally {
      Deno.kill(master.pid, "SIGCONT");
    }
    await waitFor(async () => (await fetch(`${node.url}/ready`)).status === 200, "ready again");
    const read = await fetch(`${node.url}/keys/lease0`);
    assert.notEqual(read.status, 503, await read.text());
  } finally {
    await processes.stopAll();
  }
});

Deno.test("a node whose lease is shorter than two heartbeats keeps it", async () => {
  // --failure-timeout-ms 1000 leases 800 ms, against the default 1000 ms beats: each node went
  // without a lease a fifth of every second, answering 503.
  const processes = new Processes();
  try {
    const master = await processes.master({ args: ["--failure-timeout-ms", "1000"] });
    const node = await processes.node(master.url, ["--heartbeat-ms", "1000"]);
    await ready(node.url);
    let refused = 0;
    for (const end = Date.now() + 3000; Date.now() < end;) {
      const answer = await fetch(`${node.url}/ready`);
      await answer.body?.cancel();
      if (answer.status !== 200) refused++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(refused, 0);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("a node the master cannot call, its heartbeats heard, stops serving before it is marked down", async () => {
  // Cut off one way, a node got a whole lease with each beat until the master marked it down, and
  // went on taking writes its ring no longer gave it until its next beat was refused.
  const processes = new Processes();
  const port = freePort();
  const link = startNodeRelay(port);
  try {
    const args = ["--failure-timeout-ms", "1000", "--replicas", "2"];
    const { master } = await settledCluster(processes, 2, args);
    const cutOff = await processes.node(master.url, [
      "--port",
      String(port),
      "--advertise",
      link.url,
    ]);
    await waitFor(async () => (await nodesOf(master.url)).length === 3, "3 nodes registered");
    await settled(master.url);
    await ready(cutOff.url);
    link.cut(); // its beats still reach the master; the master's calls to it go unanswered
    const answers: number[] = [];
    for (let i = 0;; i++) {
      answers.push(await put(cutOff.url, `cut${i}`, "v"));
      const nodes = await nodesOf(master.url);
      if (nodes.find((node) => node.address === link.url)?.status === "down") break;
      assert.ok(answers.length < 5000, "never marked down");
    }
    const refused = answers.indexOf(503);
    assert.ok(refused > 0, `answers: ${answers.slice(-5)}`);
    assert.deepEqual(new Set(answers.slice(refused)), new Set([503]), "refused until marked down");
  } finally {
    await processes.stopAll();
    await link.close();
  }
});

Deno.test("R=2: a killed node is marked down while the others are stalled, and all killed are", async () => {
  // Stalled nodes are kept up (above); a node whose address refuses calls is gone, not busy. Once
  // every node was kept listed up, and the master answered /ready 200 with nothing behind it.
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 3, failover(2));
    const keys = Array.from({ length: 50 }, (_, i) => `gone${i}`);
    await storeAll(master.url, keys, "kept");
    const [killed, ...stalled] = nodes;
    for (const node of stalled) Deno.kill(node.pid, "SIGSTOP");
    await killed.stop("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, FAILURE_TIMEOUT_MS * 3));
    const statuses = new Map(
      (await nodesOf(master.url)).map((node) => [node.address, node.status]),
    );
    assert.equal(statuses.get(killed.address), "down");
    assert.ok(stalled.every((node) => statuses.get(node.address) === "up"), "the stalled kept up");
    for (const node of stalled) Deno.kill(node.pid, "SIGCONT");
    await settled(master.url);
    for (const node of stalled) await ready(node.url);
    await assertAllStored(master.url, keys, "kept");

    for (const node of stalled) await node.stop("SIGKILL");
    await waitFor(
      async () => (await nodesOf(master.url)).every((node) => node.status === "down"),
      "every node down",
    );
    const readiness = await fetch(`${master.url}/ready`);
    assert.equal(readiness.status, 503, await readiness.text());
    const read = await fetch(`${master.url}/keys/gone0`);
    assert.equal(read.status, 503, await read.text());
  } finally {
    await processes.stopAll();
  }
});
