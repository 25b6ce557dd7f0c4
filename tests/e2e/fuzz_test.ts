// Thousands of random and malformed requests to a real master and node: no 5xx, errors are
// always {"error"}, and no rejected request changes any data.

import assert from "node:assert/strict";
import fc from "fast-check";
import { Processes, ready, waitFor } from "../support/process.ts";

const TOKENS = { client: "client-fuzz-1", node: "node-fuzz-1", admin: "admin-fuzz-1" };
const AUTH_TOKENS = Object.entries(TOKENS).map(([role, token]) => `${role}:${token}`).join(",");
const SEEDS = Array.from({ length: 8 }, (_, i) => `seed-${i}`);

const key = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", "%", "%ZZ", "%E0%A4%A", "a%2Fb", "..", "seed-1"),
  fc.integer({ min: 1000, max: 3000 }).map((n) => "k".repeat(n)),
);
const path = fc.oneof(
  fc.constantFrom(
    "/keys",
    "/mget",
    "/mset",
    "/stamped",
    "/nodes",
    "/stats",
    "/ring",
    "/replicate",
    "/metrics",
  ),
  key.map((k) => `/keys/${k}`),
  key.map((k) => `/keys/${encodeURIComponent(k)}`),
  key.map((k) => `/ring/owners/${k}`),
  key.map((k) => `/replica/${k}`),
  key.map((k) => `/register/${k}`),
  fc.tuple(key, fc.constantFrom("incr", "touch")).map(([k, op]) =>
    `/keys/${encodeURIComponent(k)}/${op}`
  ),
  fc.constantFrom("/keys/seed-1/incr", "/keys/seed-2/touch"),
  fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), fc.string({ maxLength: 8 }))
    .map(([prefix, cursor, count]) =>
      `/keys?prefix=${encodeURIComponent(prefix)}&cursor=${cursor}&count=${count}`
    ),
  fc.webPath(),
);
const jsonBody = fc.oneof(
  fc.json(),
  fc.record({
    key,
    value: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    ttl: fc.anything(),
  }, {
    requiredKeys: [],
  }).map((v) => JSON.stringify(v)),
  fc.record({ keys: fc.array(fc.oneof(key, fc.integer()), { maxLength: 1200 }) }).map((v) =>
    JSON.stringify(v)
  ),
  fc.record({ items: fc.array(fc.anything(), { maxLength: 20 }) }).map((v) => JSON.stringify(v)),
  fc.record({ entries: fc.array(fc.anything(), { maxLength: 5 }) }).map((v) => JSON.stringify(v)),
  fc.record({
    by: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 53), fc.string()),
    ttl: fc.oneof(fc.double(), fc.constant(null)),
    requestId: fc.oneof(fc.string({ maxLength: 120 }), fc.integer()),
  }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.record({
    key: fc.constantFrom(...SEEDS, "fresh"),
    value: fc.string(),
    if: fc.oneof(fc.constantFrom("absent", "present"), fc.string()),
    ifVersion: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()),
  }, { requiredKeys: ["key", "value"] }).map((v) => JSON.stringify(v)),
  fc.record({
    items: fc.array(
      fc.record({
        key: fc.constantFrom(...SEEDS),
        value: fc.string(),
        version: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 60), fc.string()),
      }, { requiredKeys: ["key"] }),
      { maxLength: 3 },
    ),
  }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"key": "x",', "[", "nul", '{"key":"\\ud800","value":"v"}'),
);
const body = fc.oneof(
  fc.constant(undefined),
  jsonBody,
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Uint8Array.from([0xff, 0xfe, ...bytes])),
);
const request = fc.record({
  target: fc.constantFrom("master", "node"),
  method: fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH"),
  path,
  contentType: fc.constantFrom(
    undefined,
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "nonsense",
  ),
  body,
  token: fc.constantFrom(undefined, "wrong-token", TOKENS.client, TOKENS.node, TOKENS.admin),
});

Deno.test("random and malformed requests never get a 5xx and change nothing when refused", async () => {
  const processes = new Processes({
    AUTH_TOKENS,
    MASTER_TOKEN: TOKENS.node,
    NODE_TOKEN: TOKENS.node,
  });
  try {
    const master = await processes.master({ args: ["--replicas", "1"] });
    const node = await processes.node(master.url);
    const admin = { authorization: `Bearer ${TOKENS.admin}`, "content-type": "application/json" };
    await waitFor(async () => (await fetch(`${master.url}/ready`)).status === 200, "ready");
    await ready(node.url);
    const items = SEEDS.map((k) => ({ key: k, value: `value of ${k}` }));
    const seeded = await fetch(`${master.url}/mset`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ items }),
    });
    assert.equal(seeded.status, 204);

    const snapshot = async () => {
      const found = await (await fetch(`${master.url}/mget`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ keys: SEEDS }),
      })).json();
      const nodes = (await (await fetch(`${master.url}/nodes`, { headers: admin })).json()).nodes
        .map((n: { address: string; status: string }) => `${n.address} ${n.status}`);
      const keys = (await (await fetch(`${node.url}/stats`, { headers: admin })).json()).keys;
      return JSON.stringify({ found, nodes, keys });
    };

    let sent = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        // A body-less registration with a node token registers the caller: accepted, not bad input.
        fc.pre(!(r.path === "/register" && r.method === "POST"));
        // A flush with a token that may flush empties what the test watches: not bad input.
        fc.pre(
          !(r.path === "/keys" && r.method === "DELETE" && r.token && r.token !== TOKENS.client &&
            r.token !== "wrong-token"),
        );
        const before = await snapshot();
        const headers: Record<string, string> = {};
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.token) headers.authorization = `Bearer ${r.token}`;
        const base = r.target === "master" ? master.url : node.url;
        // Only ever this machine's services: the path is appended, never resolved against base.
        const url = base + (r.path.startsWith("/") ? r.path : `/${r.path}`);
        if (!URL.canParse(url) || new URL(url).host !== new URL(base).host) return;
        const hasBody = r.body !== undefined && !["GET", "HEAD"].includes(r.method);
        const answer = await fetch(url, {
          method: r.method,
          headers,
          body: hasBody ? r.body : undefined,
        });
        const text = await answer.text();
        sent++;
        const where = `${r.method} ${r.target}${r.path.slice(0, 80)} -> ${answer.status} ${
          text.slice(0, 200)
        }`;
        assert.ok(answer.status < 500, where);
        if (answer.status >= 400) {
          let error: unknown;
          try {
            error = JSON.parse(text).error;
          } catch {
            error = undefined;
          }
          assert.equal(typeof error, "string", `not {"error"}: ${where}`);
          assert.equal(await snapshot(), before, `a refused request changed data: ${where}`);
        }
      }),
      { numRuns: 2500, seed: 20261125, interruptAfterTimeLimit: 60_000 },
    );
    console.log(`  ${sent} requests sent`);
    assert.ok(sent >= 2000, `only ${sent} requests were sent`);
    assert.equal((await fetch(`${master.url}/live`)).status, 200);
    assert.equal((await fetch(`${node.url}/live`)).status, 200);
  } finally {
    await processes.stopAll();
  }
});
