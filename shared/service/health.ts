// The liveness and readiness probes both services serve.

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { OPEN } from "./api.ts";
import { errors, json } from "@cache/protocol/route_parts";

const Health = z.object({ status: z.enum(["live", "ready"]) }).openapi("Health");

const live = createRoute({
  method: "get",
  path: "/live",
  summary: "Liveness",
  description: "200 while the process serves HTTP; checks nothing else.",
  tags: ["health"],
  ...OPEN,
  responses: { 200: json(Health, "Alive") },
});

/**
 * Serves `/live`, always 200, and `/ready`: 200 when `notReady()` returns `undefined`, else 503
 * with its reason. `readyWhen` documents what ready means for the service.
 */
export function addHealthRoutes(
  app: OpenAPIHono,
  readyWhen: string,
  notReady: () => string | undefined,
): void {
  const ready = createRoute({
    method: "get",
    path: "/ready",
    summary: "Readiness",
    description: `200 ${readyWhen}; 503 otherwise.`,
    tags: ["health"],
    ...OPEN,
    responses: { 200: json(Health, "Ready"), ...errors({ 503: "Not ready, with the reason" }) },
  });
  app.openapi(live, (c) => c.json({ status: "live" as const }, 200));
  app.openapi(ready, (c) => {
    const reason = notReady();
    if (reason !== undefined) return c.json({ error: reason }, 503);
    return c.json({ status: "ready" as const }, 200);
  });
}
