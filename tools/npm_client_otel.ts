// What the npm client is bundled with in place of @opentelemetry/api (tools/npm_client.ts): no
// active span ever, so the HTTP/1.1 client makes no spans and the package needs no OpenTelemetry.

import type * as api from "@opentelemetry/api";

const off = (): never => {
  throw new Error("Tracing is off in the npm client");
};

// Never asked for a span: http1Client starts one only under an active span, and there is none.
const tracer: api.Tracer = { startSpan: off, startActiveSpan: off };

/** The tracing API with no provider and no context: no active span, a tracer never used. */
export const trace = {
  getTracer: () => tracer,
  getActiveSpan: () => undefined,
} satisfies Pick<typeof api.trace, "getTracer" | "getActiveSpan">;

/** Span kinds, with the API's values. */
export const SpanKind = {
  INTERNAL: 0,
  SERVER: 1,
  CLIENT: 2,
  PRODUCER: 3,
  CONSUMER: 4,
} as const satisfies Record<keyof typeof api.SpanKind, api.SpanKind>;

/** Span statuses, with the API's values. */
export const SpanStatusCode = {
  UNSET: 0,
  OK: 1,
  ERROR: 2,
} as const satisfies Record<keyof typeof api.SpanStatusCode, api.SpanStatusCode>;
