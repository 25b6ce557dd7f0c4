// One mget of 100 keys through the master against 100 single GETs, on a real local cluster.

import { Processes, put, waitFor } from "../tests/support/process.ts";

const processes = new Processes();
globalThis.addEventListener("unload", () => void processes.stopAll());

const master = await processes.master();
await Promise.all([1, 2, 3].map(() => processes.node(master.url)));
await waitFor(async () => (await fetch(`${master.url}/ready`)).status === 200, "cluster ready");
const keys = Array.from({ length: 100 }, (_, i) => `bench:${i}`);
for (const key of keys) await put(master.url, key, "v".repeat(100));
const body = JSON.stringify({ keys });

Deno.bench(
  "100 single GETs through the master",
  { group: "100 keys", baseline: true },
  async () => {
    for (const key of keys) await (await fetch(`${master.url}/keys/${key}`)).arrayBuffer();
  },
);
Deno.bench("1 mget of 100 keys through the master", { group: "100 keys" }, async () => {
  const answer = await fetch(`${master.url}/mget`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await answer.arrayBuffer();
});
