// End-to-end scenarios written once against a Harness: run on processes and on containers.

import assert from "node:assert/strict";
import { Ring } from "@cache/ring/ring";
import { refusals } from "./bad_input.ts";
import type { Harness, Service } from "./harness.ts";
import { get, nodesOf, put, waitFor } from "./process.ts";

/** A master's failure timeout in scenarios: short, so a killed node is seen down quickly. */
export const FAILURE_TIMEOUT_MS = 600;

/** One scenario: a name that says the behaviour, and the steps. */
export interface Scenario {
  name: string;
  run(harness: Harness): Promise<void>;
}

/** Starts a master and `count` nodes and waits until every node is up. */
async function cluster(harness: Harness, count: number, args: string[] = []) {
  const master = await harness.master({
    args: ["--failure-timeout-ms", String(FAILURE_TIMEOUT_MS), ...args],
  });
  const nodes = await Promise.all(
    Array.from({ length: count }, () => harness.node(master.address)),
  );
  await waitFor(
    async () => (await nodesOf(master.url)).filter((n) => n.status === "up").length === count,
    `${count} nodes up`,
  );
  return { master, nodes };
}

const sorted = (services: Service[]) => services.map((s) => s.address).sort();

const postJson = (url: string, body: unknown) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Every scenario, in the order they run. */
export const scenarios: Scenario[] = [
  {
    name: "put, get and delete through the master land on every node",
    async run(harness) {
      const { master, nodes } = await cluster(harness, 3);
      const keys = Array.from({ length: 90 }, (_, i) => `user/${i} ✓`);
      for (const key of keys) assert.equal(await put(master.url, key, `value of ${key}`), 204);
      for (const key of keys) assert.equal(await get(master.url, key), `value of ${key}`);

      // Each key sits on exactly the nodes the shared ring names, its primary and backups, and
      // every node holds some.
      const view = await (await fetch(`${master.url}/ring`)).json();
      assert.equal(view.replicas, 2);
      const ring = new Ring(view.nodes);
      for (const node of nodes) {
        let held = 0;
        for (const key of keys) {
          const value = await get(node.url, key);
          const owner = ring.owners(key, view.replicas).includes(node.address);
          assert.equal(value !== undefined, owner, `${key} on ${node.address}`);
          if (value !== undefined) held++;
        }
        assert.ok(held > 0, `${node.address} holds keys`);
      }

      const deleted = await fetch(`${master.url}/keys/${encodeURIComponent(keys[0])}`, {
        method: "DELETE",
      });
      assert.equal(deleted.status, 204);
      assert.equal(await get(master.url, keys[0]), undefined);
    },
  },
  {
    name: "a SIGTERM'd node deregisters, exits 0, and the cluster keeps serving",
    async run(harness) {
      const { master, nodes } = await cluster(harness, 3);
      assert.equal(await nodes[0].stop("SIGTERM"), 0);
      assert.ok(nodes[0].logs.some((line) => line.msg === "deregistered"));
      const left = await nodesOf(master.url);
      assert.deepEqual(left.map((n) => n.address).sort(), sorted(nodes.slice(1)));
      for (let i = 0; i < 30; i++) {
        assert.equal(await put(master.url, `after-${i}`, "v"), 204);
        assert.equal(await get(master.url, `after-${i}`), "v");
      }
    },
  },
  {
    name: "a SIGKILL'd node is marked down after the failure timeout",
    async run(harness) {
      const { master, nodes } = await cluster(harness, 2);
      const killedAt = Date.now();
      await nodes[0].stop("SIGKILL");
      const down = await waitFor(async () => {
        const node = (await nodesOf(master.url)).find((n) => n.address === nodes[0].address);
        return node?.status === "down" && Date.now();
      }, "killed node marked down");
      // Not before its heartbeats stop for the timeout (one 100 ms heartbeat may have just landed).
      assert.ok(down - killedAt >= FAILURE_TIMEOUT_MS - 150, `down after ${down - killedAt} ms`);
      // Swept every tenth of the timeout: down within 1.1 timeouts, plus polling and scheduling.
      assert.ok(
        down - killedAt <= FAILURE_TIMEOUT_MS * 1.1 + 500,
        `down after ${down - killedAt} ms`,
      );
      const ring = await (await fetch(`${master.url}/ring`)).json();
      assert.deepEqual(ring.nodes, [nodes[1].address]);
      for (let i = 0; i < 20; i++) assert.equal(await put(master.url, `k${i}`, "v"), 204);
    },
  },
  {
    name: "nodes register again with a restarted master",
    async run(harness) {
      const at = harness.masterAddress();
      const first = await harness.master({ at });
      const nodes = [await harness.node(at), await harness.node(at)];
      await waitFor(async () => (await nodesOf(first.url)).length === 2, "nodes registered");
      await first.stop("SIGTERM");

      const second = await harness.master({ at });
      const back = await waitFor(async () => {
        const up = (await nodesOf(second.url)).filter((n) => n.status === "up");
        return up.length === 2 && up;
      }, "nodes registered with the new master");
      assert.deepEqual(back.map((n) => n.address).sort(), sorted(nodes));
      assert.equal(await put(second.url, "k", "v"), 204);
    },
  },
  {
    name: "nodes started before the master become ready once it starts",
    async run(harness) {
      const at = harness.masterAddress();
      const nodes = [await harness.node(at), await harness.node(at)];
      const early = await fetch(`${nodes[0].url}/ready`);
      assert.equal(early.status, 503);
      assert.match((await early.json()).error, /Not registered/);

      const master = await harness.master({ at });
      await waitFor(
        async () => (await fetch(`${master.url}/ready`)).status === 200,
        "master ready",
      );
      for (const node of nodes) {
        await waitFor(async () => (await fetch(`${node.url}/ready`)).status === 200, "node ready");
      }
      assert.equal((await nodesOf(master.url)).length, 2);
    },
  },
  {
    name: "master and node refuse every bad input over a real socket",
    async run(harness) {
      const { master, nodes } = await cluster(harness, 1);
      for (const url of [master.url, nodes[0].url]) {
        const send = (path: string, init?: RequestInit) => fetch(url + path, init);
        assert.deepEqual(await refusals(send, 1024 * 1024), [], url);
        assert.equal((await fetch(`${url}/live`)).status, 200);
      }
    },
  },
  {
    name: "master takes a caller with no body for a node at its IP and port 8080, and calls it",
    async run(harness) {
      const { master } = await cluster(harness, 0);
      // A new master first waits a moment for the nodes of a ring it may have had (503).
      const answer = await waitFor(async () => {
        const answer = await fetch(`${master.url}/register`, { method: "POST" });
        if (answer.status === 503) await answer.body?.cancel();
        return answer.status !== 503 && answer;
      }, "an answer");
      // Usually nothing answers on the caller's port 8080: the master cannot call that node, so
      // it does not join, and the answer names the address the master took from the caller.
      const address = /http:\/\/(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):8080/;
      const body = await answer.json();
      if (answer.status === 201) {
        assert.match(body.nodes[0], address); // a node of another cluster answers there
        return;
      }
      if (answer.status === 400) {
        // A local `deno task dev`'s master, on 8080: it is called, and found to be a master.
        assert.match(body.error, new RegExp(`${address.source} is a master, not a node`));
        return;
      }
      assert.equal(answer.status, 502);
      assert.match(body.error, new RegExp(`^The master cannot call node ${address.source}: `));
      assert.deepEqual((await (await fetch(`${master.url}/nodes`)).json()).nodes, []);
    },
  },
  {
    name: "both services serve their OpenAPI document and offline reference page",
    async run(harness) {
      const { master, nodes } = await cluster(harness, 1);
      for (const url of [master.url, nodes[0].url]) {
        assert.equal((await (await fetch(`${url}/openapi.json`)).json()).openapi, "3.1.0");
        assert.match(await (await fetch(`${url}/reference`)).text(), /\/reference\/standalone\.js/);
        const script = await fetch(`${url}/reference/standalone.js`);
        assert.equal(script.status, 200);
        assert.ok((await script.arrayBuffer()).byteLength > 1_000_000);
      }
    },
  },
  {
    name: "a SIGTERM'd node finishes a request in flight before it exits",
    async run(harness) {
      const { nodes } = await cluster(harness, 1);
      // A body sent in two halves: the node is told to stop between them.
      let sendRest!: () => void;
      const rest = new Promise<void>((resolve) => sendRest = resolve);
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          const text = new TextEncoder();
          controller.enqueue(text.encode('{"key": "in-flight", '));
          await rest;
          controller.enqueue(text.encode('"value": "kept"}'));
          controller.close();
        },
      });
      const answer = fetch(`${nodes[0].url}/keys`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const exit = nodes[0].stop("SIGTERM");
      await waitFor(
        () => Promise.resolve(nodes[0].logs.some((line) => line.msg === "deregistered")),
        "node deregistered",
      );
      sendRest();
      // Answered, not cut off: refused (421), as the node has left the ring (it owns nothing now,
      // and a write it took would leave with the process).
      const done = await answer;
      const text = await done.text();
      assert.equal(done.status, 421, text);
      assert.match(JSON.parse(text).error, /is not the primary of key "in-flight"/);
      assert.equal(await exit, 0);
    },
  },
  {
    name: "ttl, batches and stats work through the master",
    async run(harness) {
      const { master } = await cluster(harness, 3);
      // Settled first: while keys move, misses are also asked of earlier owners, and counted there.
      await waitFor(async () => (await nodesOf(master.url)).every((n) => n.synced), "settled");
      const items = Array.from({ length: 30 }, (_, i) => ({ key: `b${i}`, value: `v${i}` }));
      assert.equal((await postJson(`${master.url}/mset`, { items })).status, 204);
      const short = { key: "short", value: "v", ttl: 0.3 };
      assert.equal((await postJson(`${master.url}/keys`, short)).status, 204);
      const keys = ["b0", "b29", "nope", "short"];
      const found = await (await postJson(`${master.url}/mget`, { keys })).json();
      assert.deepEqual(found.items.map((i: { key: string }) => i.key), ["b0", "b29", "short"]);
      assert.ok(found.items[2].ttl > 0 && found.items[2].ttl <= 0.3, JSON.stringify(found));
      assert.deepEqual(found.missing, ["nope"]);

      await new Promise((resolve) => setTimeout(resolve, 350));
      assert.equal(await get(master.url, "short"), undefined);
      // 30 distinct keys in two copies each; reads go to primaries only.
      const stats = await (await fetch(`${master.url}/stats`)).json();
      assert.deepEqual(
        [stats.keys, stats.copies, stats.hits, stats.misses, stats.expired, stats.nodes.length],
        [30, 60, 3, 2, 2, 3],
      );
    },
  },
];
