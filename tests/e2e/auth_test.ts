// Who may call what on the master and on a node, with tokens configured.

import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { Auth, parseTokens } from "@cache/service/auth";
import { createApp as createNodeApp } from "../../node/http/app.ts";
import { Store } from "../../node/store/store.ts";
import { createApp } from "../../master/http/app.ts";
import { Registry } from "../../master/membership/registry.ts";
import { Router } from "../../master/routing/router.ts";

const tokens: [("client" | "node" | "admin"), string][] = [
  ["client", "client-token"],
  ["node", "node-token"],
  ["admin", "admin-token"],
];

async function apps(metricsAuth = false) {
  const auth = await Auth.from(tokens);
  const registry = new Registry({ failureTimeoutMs: 1000, now: Date.now, log });
  const router = new Router({ placement: registry, fetch, timeoutMs: 100 });
  const master = createApp({ registry, router, maxValueBytes: 1024, log, auth, metricsAuth });
  const node = createNodeApp({
    store: new Store(),
    maxValueBytes: 1024,
    notReady: () => undefined,
    log,
    auth,
    metricsAuth,
  });
  return { master, node };
}

async function status(
  app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> },
  method: string,
  path: string,
  token?: string,
) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = method === "POST"
    ? JSON.stringify(path === "/register" ? { address: "http://n:1" } : { key: "k", value: "v" })
    : undefined;
  const answer = await app.request(path, { method, headers, body });
  return answer.status;
}

Deno.test("master: no token is 401 with WWW-Authenticate, the wrong role 403", async () => {
  const { master } = await apps();
  const answer = await master.request("/nodes");
  assert.equal(answer.status, 401);
  assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer/);
  assert.deepEqual(await answer.json(), { error: "A bearer token is required" });
  const wrong = await master.request("/nodes", {
    headers: { authorization: "Bearer wrong-token" },
  });
  assert.equal(wrong.status, 401);
  assert.deepEqual(await wrong.json(), {
    error: "The bearer token is not one this cluster knows",
  });

  const forbidden = await master.request("/nodes", {
    headers: { authorization: "Bearer client-token" },
  });
  assert.equal(forbidden.status, 403);
  assert.match((await forbidden.json()).error, /client token may not GET \/nodes/);
});

Deno.test("master: each role reaches its routes and no others", async () => {
  const { master } = await apps(true);
  const expect: [string, string, Record<string, number>][] = [
    ["POST", "/keys", { client: 503, node: 403, admin: 503 }], // 503: no node up, but allowed in
    ["GET", "/ring", { client: 200, node: 200, admin: 200 }],
    ["POST", "/register", { client: 403, node: 201, admin: 200 }],
    ["GET", "/nodes", { client: 403, node: 403, admin: 200 }],
    ["GET", "/stats", { client: 403, node: 403, admin: 200 }],
    ["GET", "/metrics", { client: 403, node: 403, admin: 200 }],
    // 502: the node registered above is not there to scan or flush, but the call was let in.
    ["GET", "/keys", { client: 502, node: 403, admin: 502 }],
    ["DELETE", "/keys", { client: 403, node: 403, admin: 502 }], // a flush: admins only
  ];
  for (const [method, path, byRole] of expect) {
    for (const [role, token] of tokens) {
      assert.equal(
        await status(master, method, path, token),
        byRole[role],
        `${role} ${method} ${path}`,
      );
    }
  }
  for (const open of ["/live", "/openapi.json", "/reference", "/dashboard"]) {
    assert.equal(await status(master, "GET", open), 200, open);
  }
});

Deno.test("master: a write past its sender's deadline is refused 504 only once its token passed", async () => {
  const { master } = await apps();
  const late = (path: string, body: unknown, token?: string) =>
    new Request(`http://m${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-deadline": "1", // long past, in the master's clock
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
  const write = { key: "k", value: "v" };
  const ways = {
    "hot path": (request: Request) => master.hot.respond(request) ?? master.fetch(request),
    app: (request: Request) => master.fetch(request),
  };
  for (const [way, serve] of Object.entries(ways)) {
    assert.equal((await serve(late("/keys", write))).status, 401, way);
    const refused = await serve(late("/keys", write, "client-token"));
    assert.equal(refused.status, 504, way);
    assert.match((await refused.json()).error, /past its sender's deadline: not applied/);
    assert.ok(Number(refused.headers.get("x-node-time")) > 1, "it names the master's clock");
  }
  const mset = late("/mset", { items: [write] }, "client-token");
  assert.equal((await master.fetch(mset)).status, 504);
  // A read applies nothing: answered as any (503: no node is up).
  assert.equal((await master.fetch(late("/mget", { keys: ["k"] }, "client-token"))).status, 503);
  const metrics = await (await master.request("/metrics")).text();
  assert.match(metrics, /http_requests_total\{method="POST",route="\/keys",status="504"\} 2/);
});

Deno.test("node: client tokens reach the key routes only", async () => {
  const { node } = await apps();
  assert.equal(await status(node, "POST", "/keys", "client-token"), 204);
  assert.equal(await status(node, "GET", "/keys/k", "client-token"), 200);
  assert.equal(await status(node, "GET", "/keys/k", "node-token"), 200);
  assert.equal(await status(node, "GET", "/stats", "client-token"), 403);
  assert.equal(await status(node, "GET", "/stats", "node-token"), 200);
  assert.equal(await status(node, "GET", "/replica/k", "client-token"), 403);
  assert.equal(await status(node, "GET", "/replica/k", "node-token"), 200);
  assert.equal(await status(node, "POST", "/evicted", "client-token"), 403);
  // Past the token check: the body, a key and value, lists no evicted states.
  assert.equal(await status(node, "POST", "/evicted", "node-token"), 400);
  assert.equal(await status(node, "GET", "/keys/k"), 401);
  assert.equal(await status(node, "GET", "/keys", "client-token"), 200); // the keys it holds
  assert.equal(await status(node, "DELETE", "/keys", "client-token"), 403);
  assert.equal(await status(node, "DELETE", "/keys", "node-token"), 200); // the master's flush
  assert.equal(await status(node, "GET", "/keys/k", "client-token"), 404);
  assert.equal(await status(node, "GET", "/metrics"), 200, "open unless --metrics-auth");
  assert.equal(await status(node, "GET", "/ready"), 200);
});

Deno.test("master: a node token bound to an address may register that address only", async () => {
  const auth = await Auth.from([
    ...parseTokens(JSON.stringify([
      { role: "node", token: "node-0-token", address: "https://node-0:8081" },
    ])),
    ["admin", "admin-token"],
  ]);
  const registry = new Registry({ failureTimeoutMs: 1000, now: Date.now, log });
  const router = new Router({ placement: registry, fetch, timeoutMs: 100 });
  const master = createApp({ registry, router, maxValueBytes: 1024, log, auth });
  const register = (address: string) =>
    master.request("/register", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer node-0-token",
        "x-node-time": "1", // a clock it may not give for another address
      },
      body: JSON.stringify({ address }),
    });
  const spoofed = await register("https://node-1:8081");
  assert.equal(spoofed.status, 403);
  assert.match((await spoofed.json()).error, /bound to https:\/\/node-0:8081/);
  const before = router.clocks.nowOn("https://node-1:8081");
  assert.ok(Math.abs(before - Date.now()) < 1000, "the refused heartbeat's clock not taken");
  assert.equal((await register("https://node-0:8081")).status, 201);
  const forget = await master.request(`/register/${encodeURIComponent("https://node-0:8081")}`, {
    method: "DELETE",
    headers: { authorization: "Bearer node-0-token" },
  });
  assert.equal(forget.status, 204);
  assert.throws(
    () => parseTokens('[{"role": "client", "token": "client-token", "address": "https://x:1"}]'),
    /Only a node token is bound to an address/,
  );
});

Deno.test("every route the documents say needs a token declares its 401 and answers it", async () => {
  // With --metrics-auth, as /metrics is declared: open by default.
  for (const [name, app] of Object.entries(await apps(true))) {
    const document = await (await app.request("/openapi.json")).json();
    let guarded = 0;
    for (const [path, item] of Object.entries(document.paths as Record<string, object>)) {
      for (const [method, operation] of Object.entries(item)) {
        const { security, responses } = operation as {
          security?: unknown[];
          responses: Record<string, unknown>;
        };
        const open = security?.length === 0;
        const route = `${name} ${method.toUpperCase()} ${path}`;
        assert.equal("401" in responses, !open, route);
        if (open) continue;
        guarded++;
        const concrete = path.replaceAll(/\{[^}]+\}/g, "k");
        assert.equal(await status(app, method.toUpperCase(), concrete), 401, route);
      }
    }
    assert.ok(guarded > 10, `${name}: ${guarded} routes need a token`);
  }
});
