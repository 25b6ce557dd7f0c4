// Keys written while a join moves them: one whose newest write expired stays gone, and a
// deletion finds what the old owners still hold; and a leave the master does not hear for a while.

import assert from "node:assert/strict";
import {
  freePort,
  get,
  nodesOf,
  Processes,
  put,
  settled,
  settledCluster,
  waitFor,
} from "../support/process.ts";
import { startMasterRelay } from "../support/master_relay.ts";
import { startNodeRelay } from "../support/node_relay.ts";

/** Nodes send keys one per call, so a join's moves outlast a 1 s TTL. */
const SLOW_MOVES = ["--rebalance-batch", "1"];

async function post(url: string, body: unknown): Promise<number> {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await answer.body?.cancel();
  return answer.status;
}

/** The value the master reads for `key`, or undefined for 404; throws on anything but 5xx. */
async function read(master: string, key: string): Promise<string | undefined> {
  const answer = await fetch(`${master}/keys/${key}`);
  const body = await answer.json();
  if (answer.status === 200) return body.value;
  if (answer.status !== 404 && answer.status < 500) {
    throw new Error(`${answer.status} ${body.error}`);
  }
}

/**
 * A master and 3 nodes holding 20,000 keys and `keys` written "old", then a 4th node that joins:
 * resolves once the ring changed, while the old owners still hold most of the keys.
 */
async function joinWhileHolding(processes: Processes, keys: string[]): Promise<string> {
  const { master } = await settledCluster(processes, 3, [], SLOW_MOVES);
  for (let i = 0; i < 20_000; i += 1000) {
    const items = Array.from({ length: 1000 }, (_, j) => ({ key: `f${i + j}`, value: "x" }));
    assert.equal(await post(`${master.url}/mset`, { items }), 204);
  }
  for (const key of keys) {
    assert.equal(await post(`${master.url}/keys`, { key, value: "old" }), 204);
  }
  const epoch = async () => (await (await fetch(`${master.url}/ring`)).json()).epoch;
  const before = await epoch();
  await processes.node(master.url, SLOW_MOVES);
  await waitFor(async () => await epoch() !== before, "the node joined the ring");
  return master.url;
}

const targets = Array.from({ length: 300 }, (_, i) => `t${i}`);

Deno.test("a key whose newest write expired while keys move never reads an older value", async () => {
  const processes = new Processes();
  try {
    const master = await joinWhileHolding(processes, targets);
    // While the old owners still hold "old", each key is written over, to expire in a second.
    const expires = new Map<string, number>();
    await Promise.all(targets.map(async (key) => {
      if (await post(`${master}/keys`, { key, value: "new", ttl: 1 }) === 204) {
        expires.set(key, Date.now() + 1000);
      }
    }));
    assert.equal(expires.size, targets.length);
    const back = new Set<string>();
    let pastTtl = 0; // reads begun past their key's TTL
    const readAll = () =>
      Promise.all(targets.map(async (key) => {
        const started = Date.now();
        const value = await read(master, key);
        // 100 ms for clocks and the expiry's own rounding.
        if (started <= expires.get(key)! + 100) return;
        pastTtl++;
        if (value !== undefined) back.add(`${key}=${value}`);
      }));
    const settled = async () => (await nodesOf(master)).every((node) => node.synced);
    while (!await settled()) await readAll();
    // Else the moves ended before the TTL passed, and nothing here was tried.
    assert.ok(pastTtl > 0, "no read past the TTL while keys still moved");
    await readAll();
    assert.equal(back.size, 0, `read after their TTL: ${[...back].slice(0, 5)}`);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("a DELETE while keys move answers 204 for a key still on its old owner", async () => {
  const processes = new Processes();
  try {
    const master = await joinWhileHolding(processes, targets);
    const statuses = await Promise.all(targets.map(async (key) => {
      const answer = await fetch(`${master}/keys/${key}`, { method: "DELETE" });
      await answer.body?.cancel();
      return answer.status;
    }));
    const notFound = targets.filter((_, i) => statuses[i] === 404);
    assert.deepEqual(notFound, [], "stored, but answered 404");
    for (const key of targets) assert.equal(await read(master, key), undefined, key);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("R=1: a node that joins while another leaves reads what the leaver still holds", async () => {
  // Its first ring no longer held the leaver, so it never asked it for a key's state: `if:
  // present` answered 412 for stored keys here, and a review's increments, on a busier machine,
  // started from 0 (acknowledged increments lost, for good).
  const processes = new Processes();
  try {
    const { master, nodes } = await settledCluster(processes, 2, ["--replicas", "1"], SLOW_MOVES);
    for (let i = 0; i < 120_000; i += 1000) { // so the leaver hands over for seconds
      const items = Array.from({ length: 1000 }, (_, j) => ({ key: `p${i + j}`, value: "x" }));
      assert.equal(await post(`${master.url}/mset`, { items }), 204);
    }
    const counters = Array.from({ length: 60 }, (_, i) => `c${i}`);
    for (const key of counters) {
      assert.equal(await post(`${master.url}/keys`, { key: `v${key}`, value: "set" }), 204);
    }
    for (const key of counters) {
      assert.equal(await post(`${master.url}/keys/${key}/incr`, { by: 5 }), 200);
    }
    const leaving = nodes[0].stop("SIGTERM");
    await waitFor(
      async () => (await nodesOf(master.url)).some((n) => n.status === "leaving"),
      "the node leaving",
    );
    const joined = await processes.node(master.url, SLOW_MOVES);
    await waitFor(
      async () => (await nodesOf(master.url)).some((n) => n.address === joined.address),
      "the new node joined",
    );
    const wrong: string[] = [];
    await Promise.all(counters.map(async (key) => {
      const answer = await fetch(`${master.url}/keys/${key}/incr`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"by":1}',
      });
      const body = await answer.json();
      if (answer.status === 200 && body.value !== 6) wrong.push(`${key} counted ${body.value}`);
      const status = await post(`${master.url}/keys`, {
        key: `v${key}`,
        value: "new",
        if: "present",
      });
      if (status === 412) wrong.push(`v${key}: 412, stored`);
    }));
    assert.equal(await leaving, 0);
    assert.deepEqual(wrong, []);
  } finally {
    await processes.stopAll();
  }
});

/** The keys of `keys` the master reads 404, one read after the other. */
async function missedOf(master: string, keys: string[]): Promise<string[]> {
  const missed = [];
  for (const key of keys) {
    const answer = await fetch(`${master}/keys/${key}`);
    await answer.body?.cancel();
    if (answer.status === 404) missed.push(key);
  }
  return missed;
}

/** That the master logged the leaver's handover going on, and every key reads its value. */
async function assertHandedOver(master: string, logs: Record<string, unknown>[], keys: string[]) {
  const resumed = "leaving node heard again: its handover goes on";
  assert.ok(logs.some((line) => line.msg === resumed), "the master says so");
  const lost = [];
  for (const key of keys) if (await get(master, key) !== `v-${key}`) lost.push(key);
  assert.deepEqual(lost, []);
}

/** How {@link leaverUnheard} starts its nodes and writes its keys. */
interface LeaverOptions {
  /** Flags of both nodes. */
  nodeArgs?: string[];
  /** Flags of the node that stays, after those. */
  stayArgs?: string[];
  /** Writes the leaver's keys after the other's, so they are stamped above all it holds. */
  leaverLast?: boolean;
}

/**
 * A master (R=1, a 1 s failure timeout), a node, and a node reaching the master through a relay,
 * holding `keys` written through the master; the relay node is sent SIGTERM and cut off from the
 * master as it says it is leaving. Resolves once the master marked it down, with its exit status;
 * the caller closes the relay and stops the processes (this does on failing).
 */
async function leaverUnheard(processes: Processes, keys: string[], options: LeaverOptions = {}) {
  const { nodeArgs = [], stayArgs = [], leaverLast = false } = options;
  const args = ["--replicas", "1", "--failure-timeout-ms", "1000"];
  const master = await processes.master({ args });
  const relay = startMasterRelay(master.url);
  try {
    await processes.node(master.url, [...nodeArgs, ...stayArgs]);
    const leaver = await processes.node(relay.url, nodeArgs);
    await waitFor(async () => (await nodesOf(master.url)).length === 2, "2 nodes registered");
    await settled(master.url);
    const owners = !leaverLast ? [] : await Promise.all(keys.map(async (key) => {
      const answer = await fetch(`${master.url}/ring/owners/${key}`);
      return (await answer.json()).owners[0];
    }));
    const last = (i: number) => owners[i] === leaver.address;
    const order = [...keys.filter((_, i) => !last(i)), ...keys.filter((_, i) => last(i))];
    for (const key of order) assert.equal(await put(master.url, key, `v-${key}`), 204);
    relay.cutAtLeave();
    const exited = leaver.stop("SIGTERM");
    const status = async () =>
      (await nodesOf(master.url)).find((node) => node.address === leaver.address)?.status;
    await waitFor(async () => await status() === "down", "the leaving node marked down");
    const killMaster = () => master.stop("SIGKILL");
    return { master: master.url, masterLogs: master.logs, killMaster, leaver, relay, exited };
  } catch (error) {
    await relay.close();
    await processes.stopAll();
    throw error;
  }
}

Deno.test("R=1: a leaving node its master did not hear for a failure timeout still hands over", async () => {
  // Marked down while it handed over (its masters hung, or out of its reach), it was told to
  // rejoin empty when heard again, and dropped the keys it alone held. Meanwhile, reads skipped
  // it: its keys read 404, then came back once it was heard again.
  const processes = new Processes();
  const keys = Array.from({ length: 1000 }, (_, i) => `held${i}`);
  const { master, masterLogs, leaver, relay, exited } = await leaverUnheard(processes, keys, {
    nodeArgs: SLOW_MOVES,
  });
  try {
    // Within its handover time (20 s by default): a read the leaver answers takes up to 0.5 s
    // (its lease has lapsed), so a few dozen keys.
    const missed = await missedOf(master, keys.slice(0, 40));
    const ring = await (await fetch(`${master}/ring`)).json();
    assert.equal(Object.keys(ring.downWhileLeaving).length, 1, "still within its handover time");
    assert.deepEqual(missed, [], `${missed.length} of 40 read 404`);
    relay.open();
    assert.equal(await exited, 0);
    assert.deepEqual(leaver.logs.filter((line) => line.msg === "rejoining empty"), []);
    assert.ok(leaver.logs.some((line) => line.msg === "keys handed over"), "handed over");
    await assertHandedOver(master, masterLogs, keys);
  } finally {
    await relay.close();
    await processes.stopAll();
  }
});

Deno.test("R=1: a leaving node unheard by a master restarted meanwhile is read, then hands over", async () => {
  // The restarted master learnt the last ring from the node that stays, and forgot the leaving
  // one that ring lists: its keys read 404 until it was heard again and handed them over.
  const processes = new Processes();
  const keys = Array.from({ length: 1000 }, (_, i) => `held${i}`);
  const { master, killMaster, relay, exited } = await leaverUnheard(processes, keys, {
    nodeArgs: SLOW_MOVES,
  });
  try {
    await killMaster();
    const args = ["--replicas", "1", "--failure-timeout-ms", "1000", "--recovery-ms", "3000"];
    const restarted = await processes.master({ at: master, args });
    const missed = await missedOf(master, keys.slice(0, 40));
    assert.deepEqual(missed, [], `${missed.length} of 40 read 404`);
    const unheard = "leaving node of the last ring not heard: read until its handover ends";
    assert.ok(restarted.logs.some((line) => line.msg === unheard), "the master says why");
    relay.open();
    assert.equal(await exited, 0);
    await assertHandedOver(master, restarted.logs, keys);
  } finally {
    await relay.close();
    await processes.stopAll();
  }
});

Deno.test("R=1: a flush a leaving node missed is not undone by reads while it hands over", async () => {
  // It learnt the flush from the ring, and kept what it held: reads asking it for keys while it
  // handed over read values the flush had emptied, and those it stamped above the flush's version
  // (the newest of the nodes the flush reached) outlived it, handed over.
  const processes = new Processes();
  const keys = Array.from({ length: 600 }, (_, i) => `held${i}`);
  const { master, relay, exited } = await leaverUnheard(processes, keys, {
    nodeArgs: SLOW_MOVES,
  });
  try {
    const flush = await fetch(`${master}/keys`, { method: "DELETE" });
    assert.equal(flush.status, 204, await flush.text());
    relay.open();
    let done = false;
    const ended = exited.finally(() => done = true);
    const back = new Set<string>();
    let rounds = 0;
    for (; !done; rounds++) {
      for (const key of keys) if (await read(master, key) !== undefined) back.add(key);
    }
    assert.equal(await ended, 0);
    for (const key of keys) if (await read(master, key) !== undefined) back.add(key);
    assert.deepEqual([...back].slice(0, 5), [], `read back after the flush, in ${rounds} rounds`);
  } finally {
    await relay.close();
    await processes.stopAll();
  }
});

for (const failing of [false, true]) {
  const what = failing
    ? "keeps its keys when no node took the flush"
    : "rejoins empty once a node took it";
  Deno.test(`R=1: a leaving node heard again while a flush is under way ${what}`, async () => {
    // Heard during the flush's first round (a node's answer held on a slow link), it went on
    // handing over: the flush's version, the newest of the nodes it reached, was below what the
    // leaver stamped last, and the second round, which it was sent, kept those (139-159 of 300 read
    // back). Then told to rejoin empty at once, it lost its keys to a flush that emptied nothing.
    const processes = new Processes();
    const keys = Array.from({ length: 300 }, (_, i) => `held${i}`);
    const port = freePort();
    const link = startNodeRelay(port);
    try {
      const stayArgs = ["--port", String(port), "--advertise", link.url];
      const { master, relay, exited } = await leaverUnheard(processes, keys, {
        stayArgs,
        leaverLast: true,
      });
      try {
        link.holdNextFlush(800, failing); // within the master's 1 s node timeout
        const flushed = fetch(`${master}/keys`, { method: "DELETE" });
        await new Promise((resolve) => setTimeout(resolve, 100));
        relay.open();
        const flush = await flushed;
        assert.equal(flush.status, failing ? 502 : 204, await flush.text());
        assert.equal(await exited, 0);
        const wrong = [];
        for (const key of keys) {
          const value = await read(master, key);
          if (value !== (failing ? `v-${key}` : undefined)) wrong.push(`${key}=${value}`);
        }
        assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${keys.length}`);
      } finally {
        await relay.close();
        await processes.stopAll();
      }
    } finally {
      await link.close();
    }
  });
}
