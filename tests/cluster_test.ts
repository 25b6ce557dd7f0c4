// End-to-end scenarios against real master and node processes on 127.0.0.1.

import assert from "node:assert/strict";
import { Ring } from "../shared/ring.ts";
import { refusals } from "./bad_input.ts";
import { freePort, get, nodesOf, Processes, put, waitFor } from "./process.ts";

const FAILURE_TIMEOUT_MS = 600;

/** Starts a master and `count` nodes, waits until every node is up, and runs `body`. */
async function withCluster(
  count: number,
  body: (cluster: Awaited<ReturnType<typeof start>>) => Promise<void>,
) {
  const processes = new Processes();
  try {
    await body(await start(processes, count));
  } finally {
    await processes.stopAll();
  }
}

async function start(processes: Processes, count: number) {
  const master = await processes.master(["--failure-timeout-ms", String(FAILURE_TIMEOUT_MS)]);
  const nodes = await Promise.all(Array.from({ length: count }, () => processes.node(master.url)));
  await waitFor(
    async () => (await nodesOf(master.url)).filter((n) => n.status === "up").length === count,
    `${count} nodes up`,
  );
  return { processes, master, nodes };
}

Deno.test("put, get and delete through the master land on every node", async () => {
  await withCluster(3, async ({ master, nodes }) => {
    const keys = Array.from({ length: 90 }, (_, i) => `user/${i} ✓`);
    for (const key of keys) assert.equal(await put(master.url, key, `value of ${key}`), 204);
    for (const key of keys) assert.equal(await get(master.url, key), `value of ${key}`);

    // Each key sits on exactly the node the shared ring names, and every node holds some.
    const view = await (await fetch(`${master.url}/ring`)).json();
    const ring = new Ring(view.nodes, { vnodes: view.vnodes });
    for (const node of nodes) {
      let held = 0;
      for (const key of keys) {
        const value = await get(node.url, key);
        assert.equal(value !== undefined, ring.owner(key) === node.url, `${key} on ${node.url}`);
        if (value !== undefined) held++;
      }
      assert.ok(held > 0, `${node.url} holds keys`);
    }

    const deleted = await fetch(`${master.url}/keys/${encodeURIComponent(keys[0])}`, {
      method: "DELETE",
    });
    assert.equal(deleted.status, 204);
    assert.equal(await get(master.url, keys[0]), undefined);
  });
});

Deno.test("a SIGTERM'd node deregisters, exits 0, and the cluster keeps serving", async () => {
  await withCluster(3, async ({ master, nodes }) => {
    const status = await nodes[0].stop("SIGTERM");
    assert.equal(status.code, 0);
    assert.ok(nodes[0].logs.some((line) => line.msg === "deregistered"));
    const left = await nodesOf(master.url);
    assert.deepEqual(left.map((n) => n.address).sort(), [nodes[1].url, nodes[2].url].sort());
    for (let i = 0; i < 30; i++) {
      assert.equal(await put(master.url, `after-${i}`, "v"), 204);
      assert.equal(await get(master.url, `after-${i}`), "v");
    }
  });
});

Deno.test("a SIGKILL'd node is marked down after the failure timeout", async () => {
  await withCluster(2, async ({ master, nodes }) => {
    const killedAt = Date.now();
    await nodes[0].stop("SIGKILL");
    const down = await waitFor(async () => {
      const node = (await nodesOf(master.url)).find((n) => n.address === nodes[0].url);
      return node?.status === "down" && Date.now();
    }, "killed node marked down");
    // Not before its heartbeats stop for the timeout (one 100 ms heartbeat may have just landed).
    assert.ok(down - killedAt >= FAILURE_TIMEOUT_MS - 150, `down after ${down - killedAt} ms`);
    const ring = await (await fetch(`${master.url}/ring`)).json();
    assert.deepEqual(ring.nodes, [nodes[1].url]);
    for (let i = 0; i < 20; i++) assert.equal(await put(master.url, `k${i}`, "v"), 204);
  });
});

Deno.test("nodes register again with a restarted master", async () => {
  const processes = new Processes();
  try {
    const port = String(freePort());
    const first = await processes.master(["--port", port]);
    const nodes = [await processes.node(first.url), await processes.node(first.url)];
    await waitFor(async () => (await nodesOf(first.url)).length === 2, "nodes registered");
    await first.stop("SIGTERM");

    const second = await processes.master(["--port", port]);
    const back = await waitFor(async () => {
      const up = (await nodesOf(second.url)).filter((n) => n.status === "up");
      return up.length === 2 && up;
    }, "nodes registered with the new master");
    assert.deepEqual(back.map((n) => n.address).sort(), nodes.map((n) => n.url).sort());
    assert.equal(await put(second.url, "k", "v"), 204);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("nodes started before the master become ready once it starts", async () => {
  const processes = new Processes();
  try {
    const port = String(freePort());
    const masterUrl = `http://127.0.0.1:${port}`;
    const nodes = [await processes.node(masterUrl), await processes.node(masterUrl)];
    const early = await fetch(`${nodes[0].url}/ready`);
    assert.equal(early.status, 503);
    assert.match((await early.json()).error, /Not registered/);

    const master = await processes.master(["--port", port]);
    await waitFor(async () => (await fetch(`${master.url}/ready`)).status === 200, "master ready");
    for (const node of nodes) {
      await waitFor(async () => (await fetch(`${node.url}/ready`)).status === 200, "node ready");
    }
    assert.equal((await nodesOf(master.url)).length, 2);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("master and node refuse every bad input over a real socket", async () => {
  await withCluster(1, async ({ master, nodes }) => {
    for (const url of [master.url, nodes[0].url]) {
      const send = (path: string, init?: RequestInit) => fetch(url + path, init);
      assert.deepEqual(await refusals(send, 1024 * 1024), [], url);
      assert.equal((await fetch(`${url}/live`)).status, 200);
    }
  });
});

Deno.test("master registers a caller with no body at its IP and port 8080", async () => {
  await withCluster(0, async ({ master }) => {
    const answer = await fetch(`${master.url}/register`, { method: "POST" });
    assert.equal(answer.status, 201);
    assert.deepEqual((await answer.json()).nodes, ["http://127.0.0.1:8080"]);
  });
});

Deno.test("both services serve their OpenAPI document and offline reference page", async () => {
  await withCluster(1, async ({ master, nodes }) => {
    for (const url of [master.url, nodes[0].url]) {
      assert.equal((await (await fetch(`${url}/openapi.json`)).json()).openapi, "3.1.0");
      assert.match(await (await fetch(`${url}/reference`)).text(), /\/reference\/standalone\.js/);
      const script = await fetch(`${url}/reference/standalone.js`);
      assert.equal(script.status, 200);
      await script.body?.cancel();
    }
  });
});

for (const service of ["master", "node"]) {
  Deno.test(`${service} exits 2 with one line naming a bad flag`, async () => {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${service}/main.ts`, "--port", "not-a-port"],
      cwd: new URL("../", import.meta.url),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 2);
    const lines = new TextDecoder().decode(stderr).trim().split("\n");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /--port \(PORT\) "not-a-port"/);
  });
}

Deno.test("a SIGTERM'd node finishes a request in flight before it exits", async () => {
  await withCluster(1, async ({ nodes }) => {
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
    const done = await answer;
    assert.equal(
      done.status,
      204,
      `${await done.text()} ${JSON.stringify(nodes[0].logs.slice(-3))}`,
    );
    assert.equal((await exit).code, 0);
  });
});

Deno.test("flags reach the services: vnodes, value limit, advertised address", async () => {
  const processes = new Processes();
  try {
    const master = await processes.master(["--vnodes", "40", "--max-value-bytes", "16"]);
    const port = freePort();
    const advertise = `http://localhost:${port}`;
    await processes.node(master.url, ["--port", String(port), "--advertise", advertise]);
    const ring = await waitFor(async () => {
      const view = await (await fetch(`${master.url}/ring`)).json();
      return view.nodes.length === 1 && view;
    }, "node registered");
    assert.deepEqual(ring.nodes, [advertise]);
    assert.equal(ring.vnodes, 40);
    assert.equal(await put(master.url, "k", "x".repeat(17)), 413);
  } finally {
    await processes.stopAll();
  }
});

Deno.test("ttl, batches and stats work through the master over real sockets", async () => {
  await withCluster(3, async ({ master }) => {
    const post = async (path: string, body: unknown) =>
      await fetch(`${master.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const items = Array.from({ length: 30 }, (_, i) => ({ key: `b${i}`, value: `v${i}` }));
    assert.equal((await post("/mset", { items })).status, 204);
    assert.equal((await post("/keys", { key: "short", value: "v", ttl: 0.3 })).status, 204);
    const found = await (await post("/mget", { keys: ["b0", "b29", "nope", "short"] })).json();
    assert.deepEqual(found.items.map((i: { key: string }) => i.key), ["b0", "b29", "short"]);
    assert.ok(found.items[2].ttl > 0 && found.items[2].ttl <= 0.3, JSON.stringify(found));
    assert.deepEqual(found.missing, ["nope"]);

    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.equal(await get(master.url, "short"), undefined);
    const stats = await (await fetch(`${master.url}/stats`)).json();
    assert.deepEqual(
      [stats.keys, stats.hits, stats.misses, stats.expired, stats.nodes.length],
      [30, 3, 2, 1, 3],
    );
  });
});
