// Atomic operations on real processes: counters, add and compare-and-set stay exact under
// concurrency, a node killed (R=2) and a node joining; a scan misses no key while the ring changes.

import assert from "node:assert/strict";
import { CacheClient } from "@cache/client";
import {
  freePort,
  nodesOf,
  Processes,
  settled,
  settledCluster,
  waitFor,
} from "../support/process.ts";

const FAILURE_TIMEOUT_MS = 600;
const MASTER_ARGS = ["--replicas", "2", "--failure-timeout-ms", String(FAILURE_TIMEOUT_MS)];
const CLIENTS = 20;
const INCREMENTS = 500; // per client
const COUNTERS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(url: string, body: unknown): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/**
 * Adds 1 to `key` through the master, retrying a failure that leaves the increment indeterminate
 * (no answer, 5xx, 421) with the same request id until it is acknowledged: exactly once, or the
 * test fails. Returns the tries it took.
 */
async function increment(master: string, key: string, requestId: string): Promise<number> {
  const path = `${master}/keys/${encodeURIComponent(key)}/incr`;
  for (let tries = 1;; tries++) {
    try {
      const answer = await post(path, { by: 1, requestId });
      const body = await answer.json();
      if (answer.status === 200) return tries;
      if (answer.status < 500 && answer.status !== 421) {
        throw new Error(`incr ${key} answered ${answer.status}: ${body.error}`);
      }
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("incr ")) throw error;
    }
    if (tries > 400) throw new Error(`incr ${key} (${requestId}) not acknowledged in 400 tries`);
    await sleep(50);
  }
}

/** Reads `key`'s value through the master, waiting out a failover. */
async function read(master: string, key: string): Promise<{ value: string; version: string }> {
  return await waitFor(async () => {
    const answer = await fetch(`${master}/keys/${encodeURIComponent(key)}`);
    const body = await answer.json();
    return answer.status === 200 ? body : undefined;
  }, `read ${key}`);
}

/**
 * 20 clients x 500 increments of 1, spread over 10 counters, each with its own request id;
 * `during` runs meanwhile (a fault). Asserts every counter ends at exactly its acknowledged
 * increments, and the total at 10,000.
 */
async function countersStayExact(master: string, during: () => Promise<void> = async () => {}) {
  let retried = 0;
  const clients = Array.from({ length: CLIENTS }, async (_, client) => {
    for (let i = 0; i < INCREMENTS; i++) {
      const key = `counter:${(client + i) % COUNTERS}`;
      retried += await increment(master, key, `c${client}-${i}`) - 1;
    }
  });
  await Promise.all([...clients, during()]);
  let total = 0;
  for (let c = 0; c < COUNTERS; c++) {
    const { value } = await read(master, `counter:${c}`);
    assert.equal(value, String(CLIENTS * INCREMENTS / COUNTERS), `counter:${c}`);
    total += Number(value);
  }
  console.log(
    `  ${CLIENTS * INCREMENTS} increments acknowledged, ${retried} retries, total ${total}`,
  );
  assert.equal(total, CLIENTS * INCREMENTS);
}

/** Runs `test` on a settled master (with `args`) and 3 nodes, all stopped after it. */
async function onCluster(
  test: (
    cluster: Awaited<ReturnType<typeof settledCluster>>,
    processes: Processes,
  ) => Promise<void>,
  args = MASTER_ARGS,
): Promise<void> {
  const processes = new Processes();
  try {
    await test(await settledCluster(processes, 3, args), processes);
  } finally {
    await processes.stopAll();
  }
}

Deno.test("20 clients x 500 incr on 10 counters end at exactly 10,000", () =>
  onCluster(async ({ master }) => {
    await countersStayExact(master.url);
  }));

Deno.test("R=2: incr stays exact while a node is killed, retries by request id", () =>
  onCluster(async ({ master, nodes }) => {
    await countersStayExact(master.url, async () => {
      await sleep(500);
      await nodes[0].stop("SIGKILL");
      await waitFor(
        async () => (await nodesOf(master.url)).some((n) => n.status === "down"),
        "down",
      );
      await settled(master.url);
    });
  }));

Deno.test("R=2: incr stays exact while a node joins and keys move", () =>
  onCluster(async ({ master }, processes) => {
    await countersStayExact(master.url, async () => {
      await sleep(500);
      await processes.node(master.url);
      await waitFor(async () => (await nodesOf(master.url)).length === 4, "4 nodes");
      await settled(master.url);
    });
  }));

Deno.test("R=1: incr stays exact while a node leaves (SIGTERM) and hands its keys over", () =>
  onCluster(async ({ master, nodes }) => {
    await countersStayExact(master.url, async () => {
      await sleep(500);
      await nodes[0].stop("SIGTERM");
      await waitFor(async () => (await nodesOf(master.url)).length === 2, "2 nodes");
      await settled(master.url);
    });
  }, ["--replicas", "1", "--failure-timeout-ms", String(FAILURE_TIMEOUT_MS)]));

Deno.test("R=2: 40 clients on 2 counters through a kill count no retried increment twice", () =>
  onCluster(async ({ master, nodes }) => {
    // Many increments of one key between an attempt and its retry: more than its owners keep ids
    // of. A retry they can no longer place is refused (409), never applied again.
    let acknowledged = 0;
    let unknown = 0;
    const clients = Array.from({ length: 40 }, async (_, client) => {
      for (let i = 0; i < 60; i++) {
        const key = `hot:${(client + i) % 2}`;
        const path = `${master.url}/keys/${key}/incr`;
        for (let tries = 1;; tries++) {
          const answer = await post(path, { by: 1, requestId: `h${client}-${i}`, retry: tries > 1 })
            .catch(() => undefined);
          const body = await answer?.json();
          if (answer?.status === 200) acknowledged++;
          else if (answer?.status === 409) unknown++;
          else if (answer && answer.status < 500 && answer.status !== 421) {
            throw new Error(`incr ${key} answered ${answer.status}: ${body.error}`);
          } else if (tries < 400) {
            await sleep(50 + Math.random() * 200); // slow retries: others go in between
            continue;
          } else throw new Error(`incr ${key} not answered in 400 tries`);
          break;
        }
      }
    });
    await Promise.all([
      ...clients,
      (async () => {
        await sleep(300);
        await nodes[0].stop("SIGKILL");
      })(),
    ]);
    const total = Number((await read(master.url, "hot:0")).value) +
      Number((await read(master.url, "hot:1")).value);
    console.log(`  ${acknowledged} acknowledged, ${unknown} refused as unknown, total ${total}`);
    assert.equal(acknowledged + unknown, 2400);
    assert.ok(total >= acknowledged, `${total} < ${acknowledged}: an increment was lost`);
    assert.ok(total <= acknowledged + unknown, `${total}: an increment counted twice`);
  }));

Deno.test("if absent from 20 clients at once on one key: exactly one 204, the others 412", () =>
  onCluster(async ({ master }) => {
    const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const answer = await post(`${master.url}/keys`, {
        key: "lock",
        value: `c${i}`,
        if: "absent",
      });
      return { status: answer.status, body: answer.status === 204 ? null : await answer.json() };
    }));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [204, ...Array(19).fill(412)]);
    const { value, version } = await read(master.url, "lock");
    const winner = answers.findIndex((a) => a.status === 204);
    assert.equal(value, `c${winner}`);
    for (const { body } of answers.filter((a) => a.status === 412)) {
      assert.equal(body.version, version, "a 412 names the version that won");
    }
  }));

Deno.test("10 clients x 100 compare-and-set loops add up to exactly 1,000", () =>
  onCluster(async ({ master }) => {
    assert.equal((await post(`${master.url}/keys`, { key: "cas", value: "0" })).status, 204);
    let conflicts = 0;
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let added = 0; added < 100;) {
        const { value, version } = await read(master.url, "cas");
        const answer = await post(`${master.url}/keys`, {
          key: "cas",
          value: String(Number(value) + 1),
          ifVersion: version,
        });
        await answer.body?.cancel();
        if (answer.status === 204) added++;
        else if (answer.status === 412) conflicts++;
        else throw new Error(`cas answered ${answer.status}`);
      }
    }));
    console.log(`  1000 compare-and-sets, ${conflicts} retried after a 412`);
    assert.equal((await read(master.url, "cas")).value, "1000");
  }));

Deno.test("scan of 100,000 keys returns each once, with 1,000 writes and a join meanwhile", () =>
  onCluster(async ({ master }, processes) => {
    const KEYS = 100_000;
    for (let i = 0; i < KEYS; i += 1000) {
      const items = Array.from({ length: 1000 }, (_, j) => ({ key: `s:${i + j}`, value: "v" }));
      const answer = await post(`${master.url}/mset`, { items });
      await answer.body?.cancel();
      assert.equal(answer.status, 204);
    }
    const seen = new Set<string>();
    let duplicates = 0;
    let pages = 0;
    const scan = (async () => {
      let cursor: string | null = "0";
      while (cursor !== null) {
        const answer: Response = await fetch(`${master.url}/keys?count=1000&cursor=${cursor}`);
        const page: { keys: string[]; cursor: string | null; error?: string } = await answer.json();
        assert.equal(answer.status, 200, page.error ?? "");
        for (const key of page.keys) {
          if (seen.has(key)) duplicates++;
          seen.add(key);
        }
        cursor = page.cursor;
        pages++;
        await sleep(20); // a scan that spans the join
      }
    })();
    const writes = (async () => {
      for (let i = 0; i < 1000; i++) {
        const answer = await post(`${master.url}/keys`, { key: `new:${i}`, value: "v" });
        await answer.body?.cancel();
      }
    })();
    const join = (async () => {
      await sleep(300);
      await processes.node(master.url);
      await waitFor(async () => (await nodesOf(master.url)).length === 4, "4 nodes");
    })();
    await Promise.all([scan, writes, join]);
    const missed = Array.from({ length: KEYS }, (_, i) => `s:${i}`).filter((k) => !seen.has(k));
    console.log(
      `  ${pages} pages, ${seen.size} keys, ${missed.length} missed, ${duplicates} twice`,
    );
    assert.deepEqual(missed, []);
    assert.equal(duplicates, 0);
  }));

/** Every key `url`'s node holds, its backup copies too, from its own scan. */
async function heldBy(url: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor: string | null = "0";
  while (cursor !== null) {
    const answer: Response = await fetch(`${url}/keys?count=1000&cursor=${cursor}`);
    const page: { keys: string[]; cursor: string | null } = await answer.json();
    assert.equal(answer.status, 200);
    for (const key of page.keys) keys.add(key);
    cursor = page.cursor;
  }
  return keys;
}

Deno.test("R=2: a flush racing writes leaves each key on all its owners or on none", () =>
  onCluster(async ({ master, nodes }) => {
    // Writes sent to every owner at once (the client's direct mode) and through the master.
    const direct = await CacheClient.connect(master.url, { mode: "direct", timeoutMs: 3000 });
    const proxied = await CacheClient.connect(master.url, { mode: "proxy", timeoutMs: 3000 });
    const split: string[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        let writing = true;
        const writers = Array.from({ length: 8 }, async (_, w) => {
          const cache = w % 2 === 0 ? direct : proxied;
          for (let i = 0; writing; i++) await cache.set(`r${round}:${w}:${i}`, "v").catch(() => {});
        });
        await sleep(80);
        const flushed = await fetch(`${master.url}/keys`, { method: "DELETE" });
        assert.equal(flushed.status, 204);
        writing = false;
        await Promise.all(writers);
        const held = await Promise.all(nodes.map((node) => heldBy(node.url)));
        for (const key of new Set(held.flatMap((keys) => [...keys]))) {
          const answer = await fetch(`${master.url}/ring/owners/${encodeURIComponent(key)}`);
          const { owners }: { owners: string[] } = await answer.json();
          const holders = nodes.filter((_, i) => held[i].has(key)).map((node) => node.url);
          if (holders.length !== owners.length) split.push(`${key} on ${holders} of ${owners}`);
        }
      }
    } finally {
      direct.close();
      proxied.close();
    }
    assert.deepEqual(split, []);
  }));

Deno.test("R=1: a node restarted after a flush writes above it, so its keys survive a handover", async () => {
  const processes = new Processes();
  try {
    const { master, nodes: [a] } = await settledCluster(processes, 1, [
      "--replicas",
      "1",
      "--failure-timeout-ms",
      String(FAILURE_TIMEOUT_MS),
    ]);
    const port = String(freePort());
    let n = await processes.node(master.url, ["--port", port]);
    await waitFor(async () => (await nodesOf(master.url)).length === 2, "2 nodes");
    await settled(master.url);
    // A write with a floor 15 s ahead of the clocks (a sender's clock, allowed up to 20 s): the
    // flush then goes through a version 15 s past every node's clock.
    const key = await keyOwnedBy(master.url, a.url, "a");
    const floor = String(Date.now() * 1000 + 15_000_000);
    const ahead = await waitFor(async () => {
      const { epoch } = await (await fetch(`${master.url}/ring`)).json();
      const answer = await fetch(`${a.url}/keys`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-version-above": floor,
          "x-ring-epoch": String(epoch),
        },
        body: JSON.stringify({ key, value: "ahead" }),
      });
      return answer.status === 421 ? void await answer.body?.cancel() : answer;
    }, "a write on a's ring");
    assert.equal(ahead.status, 204, await ahead.text());
    assert.equal((await fetch(`${master.url}/keys`, { method: "DELETE" })).status, 204);
    // n restarts empty, its clock behind the flush, and takes a write acknowledged after it.
    const joined = async () => (await (await fetch(`${master.url}/ring`)).json()).joined[n.url];
    const before = await joined();
    await n.stop("SIGKILL");
    n = await processes.node(master.url, ["--port", port]);
    await waitFor(async () => (await joined()) > before, "n joined again");
    await settled(master.url);
    const mine = await keyOwnedBy(master.url, n.url, "n");
    const write = await post(`${master.url}/keys`, { key: mine, value: "after the flush" });
    assert.equal(write.status, 204, await write.text());
    // n leaves and hands its keys to a, which took the flush: the write must come along.
    await n.stop("SIGTERM");
    await waitFor(async () => (await nodesOf(master.url)).length === 1, "n gone");
    await settled(master.url);
    const read = await fetch(`${master.url}/keys/${mine}`);
    assert.deepEqual([read.status, (await read.json()).value], [200, "after the flush"]);
  } finally {
    await processes.stopAll();
  }
});

/** The first key `${prefix}N` that `owner` is the primary of. */
async function keyOwnedBy(master: string, owner: string, prefix: string): Promise<string> {
  for (let i = 0;; i++) {
    const answer = await fetch(`${master}/ring/owners/${prefix}${i}`);
    if ((await answer.json()).owners[0] === owner) return `${prefix}${i}`;
  }
}
