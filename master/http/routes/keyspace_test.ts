import assert from "node:assert/strict";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Router } from "../../routing/router.ts";
import { addKeyspaceRoutes } from "./keyspace.ts";

Deno.test("a follower's DELETE /keys goes to the leader with the caller's token", async () => {
  const forwarded: string[] = [];
  let flushed = 0;
  const router = { flush: () => Promise.resolve(void flushed++) } as unknown as Router;
  const lead = {
    registry: { leading: false },
    follower: {
      forward: (path: string, init: { method?: string; headers?: unknown }, timeoutMs?: number) => {
        forwarded.push(`${init.method} ${path} ${JSON.stringify(init.headers)} ${timeoutMs}`);
        return Promise.resolve(new Response(null, { status: 204 }));
      },
    },
  };
  const app = new OpenAPIHono();
  addKeyspaceRoutes(app, router, lead);
  const headers = { authorization: "Bearer admin-token" };
  assert.equal((await app.request("/keys", { method: "DELETE", headers })).status, 204);
  // The leader knows every node, and tells them the flush with its ring.
  assert.deepEqual(forwarded, ['DELETE /keys {"authorization":"Bearer admin-token"} 30000']);
  assert.equal(flushed, 0);
  lead.registry.leading = true;
  assert.equal((await app.request("/keys", { method: "DELETE" })).status, 204);
  assert.deepEqual([forwarded.length, flushed], [1, 1]);
});
