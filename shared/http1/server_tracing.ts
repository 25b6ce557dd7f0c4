// Traces the services' own server's requests: a server span each, child of the caller's
// `traceparent`, when tracing is on (`OTEL_DENO=true`).

import { context, ROOT_CONTEXT, type Span, SpanKind, trace } from "@opentelemetry/api";
import type { RequestHead } from "./server_head.ts";
import { answered } from "./server_answer.ts";

/** Runs one request's handler (`run`) inside its server span, and resolves with its answer. */
export type Traced = (
  request: Pick<Request, "url">,
  head: RequestHead,
  run: () => Response | Promise<Response>,
) => Promise<Response>;

/**
 * A wrapper that runs each request in a server span, child of the caller's `traceparent`, when
 * tracing is on; undefined when it is off.
 *
 * @example
 * ```ts
 * import { tracing } from "./server_tracing.ts";
 * const traced = tracing(); // once per server
 * const response = traced ? await traced(request, head, run) : await answered(run);
 * ```
 */
export function tracing(): Traced | undefined {
  const tracer = trace.getTracer("cache-http-server");
  // Never ended, so never exported: it only tells whether spans are recorded.
  if (!tracer.startSpan("probe").isRecording()) return undefined;
  return async (
    request: Pick<Request, "url">,
    head: RequestHead,
    run: () => Response | Promise<Response>,
  ): Promise<Response> => {
    const parent = parentContext(head);
    // A method of the client's making names nothing: span names and attributes stay a fixed set.
    const method = METHODS.has(head.method) ? head.method : undefined;
    const span: Span = tracer.startSpan(method ?? "HTTP", {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": method ?? "_OTHER",
        "url.path": new URL(request.url).pathname,
      },
    }, parent);
    try {
      const response = await context.with(trace.setSpan(parent, span), () => answered(run));
      span.setAttribute("http.response.status_code", response.status);
      return response;
    } finally {
      span.end();
    }
  };
}

/** The methods a span is named after; any other is `HTTP`, as OpenTelemetry's conventions say. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** The caller's span from its `traceparent` (`00-<trace>-<span>-<flags>`), if it sent one. */
function parentContext(head: RequestHead) {
  const header = head.headers.find(([name]) => name === "traceparent")?.[1];
  const match = header && /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(header);
  if (!match) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1],
    spanId: match[2],
    traceFlags: parseInt(match[3], 16),
    isRemote: true,
  });
}
