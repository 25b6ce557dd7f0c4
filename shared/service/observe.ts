// Request metrics and trace span names by route template, and the /metrics route.

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { trace } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { errors } from "@cache/protocol/route_parts";
import { type Metrics, METRICS_CONTENT_TYPE } from "./metrics.ts";

/**
 * Counts and times every request by method (GET, POST, DELETE, HEAD, OPTIONS, or `other`), route
 * template (`/keys/{key}`, or `unmatched`) and status, and names the request's server span after
 * the template when tracing is on (`OTEL_DENO=true`); without tracing, there is no active span and
 * naming is skipped.
 */
export function observeRequests(metrics: Metrics): MiddlewareHandler {
  const record = requestRecorder(metrics);
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // The route the method and path go to, whatever answered: a middleware mounted on a path
      // (the token check on `/keys/*`) is no route, and counted under its pattern it made a
      // series no template names.
      const declared = matchedRoutes(c).findLast((route) => route.method !== "ALL");
      const route = declared ? declared.path.replace(/:(\w+)/g, "{$1}") : "unmatched";
      record(c.req.method, route, c.res.status, started);
    }
  };
}

/**
 * Names the route template of `app`'s routes that `method` and `path` (as the router reads it) go
 * to, as {@link observeRequests} labels it, or `unmatched`: for a request answered before the app
 * sees it. Reads the app's routes on its first call.
 *
 * @example
 * ```ts
 * const name = routeNamer(app); // app declares GET /keys/:key
 * name("GET", "/keys/a"); // "/keys/{key}"
 * name("GET", "/nope"); // "unmatched"
 * ```
 */
export function routeNamer(
  app: { routes: { method: string; path: string }[] },
): (method: string, path: string) => string {
  let templates: { method: string; pattern: RegExp; route: string }[] | undefined;
  return (method, path) => {
    // Not a middleware's (method ALL: the token check mounted on a path): it is no route.
    templates ??= app.routes.filter((route) => route.method !== "ALL").map((route) => ({
      method: route.method,
      // A parameter is one segment; the rest of the path matches as written.
      pattern: new RegExp(
        `^${
          route.path.split(/(:\w+)/).map((part) =>
            part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
          ).join("")
        }$`,
      ),
      route: route.path.replace(/:(\w+)/g, "{$1}"),
    }));
    const found = templates.find((template) =>
      template.method === method && template.pattern.test(path)
    );
    return found?.route ?? "unmatched";
  };
}

/** Records one answered request: its method, route template, status and start time. */
export type RecordRequest = (
  method: string,
  route: string,
  status: number,
  started: number,
) => void;

const recorders = new WeakMap<Metrics, RecordRequest>();

/** The methods counted under their own name; any other is counted as `other`. */
const METHODS = new Set(["GET", "POST", "DELETE", "HEAD", "OPTIONS"]);

/** One series of the request counter and of the duration histogram. */
interface Series {
  inc(): void;
  observe(seconds: number): void;
}

/**
 * The request counter and duration histogram of `metrics`, created once per set, so the app and a
 * handler serving beside it count into the same series. Also names the active server span after
 * the route template when tracing is on.
 */
export function requestRecorder(metrics: Metrics): RecordRequest {
  const known = recorders.get(metrics);
  if (known) return known;
  const requests = metrics.counter("http_requests_total", "HTTP requests answered");
  const duration = metrics.histogram("http_request_duration_seconds", "HTTP request duration");
  // Each method, route and status is one series of each metric, looked up once, by nested maps:
  // a key joined from the three would be a new string on every request.
  const series = new Map<string, Map<string, Map<number, Series>>>();
  const record: RecordRequest = (sent, route, status, started) => {
    // A label only from a fixed set: a made-up method must not make a series of its own.
    const method = METHODS.has(sent) ? sent : "other";
    let routes = series.get(method);
    if (!routes) series.set(method, routes = new Map());
    let statuses = routes.get(route);
    if (!statuses) routes.set(route, statuses = new Map());
    let bound = statuses.get(status);
    if (!bound) {
      bound = {
        ...requests.with({ method, route, status: String(status) }),
        ...duration.with({ method, route }),
      };
      statuses.set(status, bound);
    }
    bound.inc();
    bound.observe((performance.now() - started) / 1000);
    const span = trace.getActiveSpan();
    if (span && route !== "unmatched") {
      span.updateName(`${method} ${route}`);
      span.setAttribute("http.route", route);
    }
  };
  recorders.set(metrics, record);
  return record;
}

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics",
  description: "Every metric of this service in the Prometheus text exposition format. Once " +
    "the service has tokens, an admin token is needed, unless it runs with `--metrics-auth false`.",
  tags: ["health"],
  responses: {
    200: {
      description: "The metrics",
      content: { [METRICS_CONTENT_TYPE]: { schema: z.string() } },
    },
    // Its own: a service with tokens run with `--metrics-auth false` answers these to no one.
    ...errors({
      401: "No bearer token, or one the service does not know (only once the service has " +
        "tokens, unless it runs with `--metrics-auth false`)",
      403: "The token is not an admin's (as for 401)",
    }),
  },
});

/** Serves `/metrics` from `metrics`. */
export function addMetricsRoute(app: OpenAPIHono, metrics: Metrics): void {
  app.openapi(
    metricsRoute,
    (c) => c.body(metrics.render(), 200, { "content-type": METRICS_CONTENT_TYPE }) as never,
  );
}
