// The liveness and readiness probes both services serve.

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { OPEN } from "./api.ts";
import { errors, json } from "@cache/protocol/route_parts";

/** The services that serve the probes: a master registers only a node's address. */
export type Service = "master" | "node";

const Health = z.object({
  status: z.enum(["live", "ready"]),
  service: z.enum(["master", "node"]).meta({ description: "Which service answers" }),
}).openapi("Health");

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
 * with its reason; both name `service`. `readyWhen` documents what ready means for the service.
 */
export function addHealthRoutes(
  app: OpenAPIHono,
  service: Service,
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
  app.openapi(live, (c) => c.json({ status: "live" as const, service }, 200));
  app.openapi(ready, (c) => {
    const reason = notReady();
    if (reason !== undefined) return c.json({ error: reason }, 503);
    return c.json({ status: "ready" as const, service }, 200);
  });
}
