// Request metrics and trace span names by route template, and the /metrics route.

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { trace } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type Metrics, METRICS_CONTENT_TYPE } from "./metrics.ts";

/**
 * Counts and times every request by method, route template (`/keys/{key}`, or `unmatched`) and
 * status, and names the request's server span after the template when tracing is on
 * (`OTEL_DENO=true`); without tracing, there is no active span and naming is skipped.
 */
export function observeRequests(metrics: Metrics): MiddlewareHandler {
  const requests = metrics.counter("http_requests_total", "HTTP requests answered");
  const duration = metrics.histogram("http_request_duration_seconds", "HTTP request duration");
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const matched = routePath(c);
      const route = matched === "/*" ? "unmatched" : matched.replace(/:(\w+)/g, "{$1}");
      const method = c.req.method;
      requests.inc({ method, route, status: String(c.res.status) });
      duration.observe({ method, route }, (performance.now() - started) / 1000);
      const span = trace.getActiveSpan();
      if (span && route !== "unmatched") {
        span.updateName(`${method} ${route}`);
        span.setAttribute("http.route", route);
      }
    }
  };
}

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics",
  description: "Every metric of this service in the Prometheus text exposition format.",
  tags: ["health"],
  responses: {
    200: {
      description: "The metrics",
      content: { [METRICS_CONTENT_TYPE]: { schema: z.string() } },
    },
  },
});

/** Serves `/metrics` from `metrics`. */
export function addMetricsRoute(app: OpenAPIHono, metrics: Metrics): void {
  app.openapi(
    metricsRoute,
    (c) => c.body(metrics.render(), 200, { "content-type": METRICS_CONTENT_TYPE }) as never,
  );
}
