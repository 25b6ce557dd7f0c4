// The HTTP skeleton both services share: JSON errors, body limit, OpenAPI document, Scalar page.

import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { giveReadBudget, readBudgetOf } from "@cache/http1/unread_budget";
import { HTTPException } from "hono/http-exception";
import { errorResponse } from "./error_response.ts";
import { describeIssues } from "@cache/protocol/errors";
import type { Logger } from "@cache/log/log";
import type { Metrics } from "./metrics.ts";
import { addMetricsRoute, observeRequests } from "./observe.ts";
import { allowedMethods } from "./allowed_methods.ts";

/** What a service's API is called and how it guards its input. */
export interface ApiOptions {
  title: string;
  description: string;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  log: Logger;
  /** Where request counts and durations go; served at `/metrics`. */
  metrics: Metrics;
  /** Headers every answer carries, refusals and errors included; read once per answer. */
  headers?: () => Record<string, string> | undefined;
  /** What each of {@link headers} says, by name, for the document: declared on every answer. */
  headerDescriptions?: Record<string, string>;
  /** Installs access checks; runs before any route is added, so it guards them all. */
  guard?: (app: OpenAPIHono) => void;
}

/** The OpenAPI version and info block of a service's document. */
export function documentConfig(options: Pick<ApiOptions, "title" | "description">) {
  return {
    openapi: "3.1.0",
    info: { title: options.title, version: "1.0.0", description: options.description },
    // Every route needs a bearer token when the service has tokens, and none when it has none
    // (`{}`: the reference page showed "Required" on an open cluster); open routes say [].
    security: [{ bearer: [] }, {}] as Record<string, string[]>[],
  };
}

/** What a route that needs a token may answer for that alone, unless it declares its own. */
const AUTH_ANSWERS = {
  "401": "No bearer token, or one the service does not know (only when it has tokens)",
  "403": "The token's role may not use this route (only when the service has tokens)",
};

/** What a route that takes a body may answer for the body alone, unless it declares its own. */
const BODY_ANSWERS = {
  "413": "The body is larger than the service takes",
  "415": "The body is not application/json",
};

/** The challenge a 401 carries, as RFC 6750 has it. */
const CHALLENGE = {
  "www-authenticate": {
    description: 'The scheme to authenticate with: `Bearer realm="cache"`',
    schema: { type: "string" },
  },
};

/**
 * `document` with the 401 and 403 of {@link AUTH_ANSWERS} declared on every operation that needs
 * a token (every one not {@link OPEN}), where it declares no answer of its own for them: the
 * access checks guard every route, so no route's declaration lists them; likewise the 413 and 415
 * of {@link BODY_ANSWERS} on every operation that takes a body. Every answer declares `headers`
 * (name: what it says), which the service adds to every answer.
 */
function withCommonAnswers<D extends { paths?: Record<string, unknown>; components?: object }>(
  document: D,
  headers: Record<string, string> = {},
): D {
  // Declared once among the components, and referred to from every answer.
  const components = (document.components ??= {}) as Record<string, Record<string, unknown>>;
  const declared: Record<string, { $ref: string }> = {};
  for (const [name, description] of Object.entries(headers)) {
    (components.headers ??= {})[name] = { description, schema: { type: "string" } };
    declared[name] = { $ref: `#/components/headers/${name}` };
  }
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, unknown>)) {
      const { security, responses, requestBody } = operation as {
        security?: unknown[];
        responses?: Record<string, { headers?: Record<string, unknown> }>;
        requestBody?: unknown;
      };
      if (!responses) continue;
      const declare = (answers: Record<string, string>) => {
        for (const [status, description] of Object.entries(answers)) {
          responses[status] ??= {
            description,
            content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
          } as { headers?: Record<string, unknown> };
        }
      };
      if (requestBody) declare(BODY_ANSWERS);
      if (security?.length !== 0) {
        declare(AUTH_ANSWERS);
        responses["401"].headers = { ...CHALLENGE, ...responses["401"].headers };
      }
      for (const answer of Object.values(responses)) {
        answer.headers = { ...answer.headers, ...declared };
      }
    }
  }
  return document;
}

/** The `security` of a route that is open even when the service has tokens. */
export const OPEN: { security: [] } = { security: [] };

/**
 * Creates an app whose every error, from validation to a thrown bug, answers `{"error": "..."}`,
 * and which serves `/openapi.json` and an offline Scalar page at `/reference`.
 *
 * @example
 * ```ts
 * import { createApi } from "./api.ts";
 * import { silentLogger } from "@cache/log/log";
 * import { Metrics } from "./metrics.ts";
 * const app = createApi({
 *   title: "Cache node",
 *   description: "",
 *   maxBodyBytes: 1 << 20,
 *   log: silentLogger,
 *   metrics: new Metrics(),
 * });
 * ```
 */
export function createApi(options: ApiOptions): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return c.json({ error: describeIssues(result.error) }, 400);
    },
  });

  const headers = options.headers;
  if (headers) {
    // First, so it wraps every other middleware's answer too.
    app.use(async (c, next) => {
      await next();
      for (const [name, value] of Object.entries(headers() ?? {})) c.res.headers.set(name, value);
    });
  }
  app.use(observeRequests(options.metrics));

  const limit = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: (c) =>
      c.json({ error: `Request body is larger than ${options.maxBodyBytes} bytes` }, 413),
  });
  // Only POST routes take a body. Skipping the others also spares them the limiter's copy of a
  // body-less request, which makes Deno warn about request.signal.
  // The limiter puts a copy in place of a request with no length: it keeps the server's read
  // budget (see `ReadBudget`), which the copy would lose.
  app.use(async (c, next) => {
    if (c.req.method !== "POST") return await next();
    const budget = readBudgetOf(c.req.raw);
    return await limit(c, async () => {
      if (budget) giveReadBudget(c.req.raw, budget);
      await next();
    });
  });
  app.use(async (c, next) => {
    // A body a DELETE carries may hold what its sender took for a filter (`{"prefix"}`), and
    // `DELETE /keys` empties every key: refused, as a body field a route does not take is.
    if (c.req.method === "DELETE" && sentBody(c.req.raw)) {
      return c.json({ error: "A DELETE takes no body" }, 400);
    }
    return await next();
  });
  app.use(async (c, next) => {
    // A path whose escapes do not decode to UTF-8 names no key: "%ff" is not "%25ff". Checked on
    // the path as sent: the router's has some escapes decoded ("%%34%31" would pass as "%41").
    // The query's too: Hono keeps an escape it cannot decode as its three characters.
    const url = c.req.url;
    if (url.includes("%")) {
      const { pathname, search } = new URL(url);
      if (!decodable(pathname)) {
        return c.json({ error: "The path's percent-encoding is malformed, or not of UTF-8" }, 400);
      }
      if (!decodable(search)) {
        return c.json({ error: "The query's percent-encoding is malformed, or not of UTF-8" }, 400);
      }
    }
    if (c.req.method === "POST" && /json/i.test(c.req.header("content-type") ?? "")) {
      // Read as bytes (the validator reads the same, cached): bytes that are not UTF-8 are
      // refused, not replaced with U+FFFD.
      const text = utf8(await c.req.arrayBuffer());
      if (text === undefined) return c.json({ error: "The body is not valid UTF-8" }, 400);
      const depth = jsonDepth(text);
      if (depth > MAX_JSON_DEPTH) {
        return c.json({
          error: `JSON is nested ${depth} levels deep, over the limit of ${MAX_JSON_DEPTH}`,
        }, 400);
      }
    }
    await next();
  });

  options.guard?.(app);

  // A path routed for other methods is answered 405 with them (`Allow`), as HTTP says; built at
  // the first such request, when every route is declared.
  let allowed: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    const { method, path } = c.req;
    allowed ??= allowedMethods(app.routes);
    const methods = allowed(path);
    if (methods.length === 0) return c.json({ error: `No route for ${method} ${path}` }, 404);
    const list = methods.join(", ");
    return c.json({ error: `${method} is not allowed on ${path}: use ${list}` }, 405, {
      allow: list,
    });
  });

  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status < 500) {
      const message = error.status === 415
        ? `Unsupported content type "${c.req.header("content-type") ?? ""}": send application/json`
        : error.message;
      return c.json({ error: message }, error.status);
    }
    return errorResponse(error, c.req.method, c.req.path, options.log);
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "A client, node or admin token, when the service has tokens (--auth-file)",
  });
  addMetricsRoute(app, options.metrics);
  // Built once, at the first request (every route is declared by then): building it takes
  // milliseconds, which a client asking again and again would take from everyone else.
  let document: string | undefined;
  app.get("/openapi.json", (c) => {
    document ??= JSON.stringify(
      withCommonAnswers(
        app.getOpenAPI31Document(documentConfig(options)),
        options.headerDescriptions,
      ),
    );
    return c.body(document, 200, { "content-type": "application/json" });
  });
  app.get("/reference/standalone.js", scalarBundleHandler());
  app.get(
    "/reference",
    Scalar({
      url: "/openapi.json",
      cdn: "/reference/standalone.js",
      pageTitle: options.title,
      withDefaultFonts: false,
    }),
  );
  return app;
}

/** Deepest JSON nesting a request body may have; no request needs more than 4. */
export const MAX_JSON_DEPTH = 16;

/** How deep `text`'s arrays and objects nest, counting brackets outside strings. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) deepest = Math.max(deepest, ++depth);
    else if (ch === 125 || ch === 93) depth--;
  }
  return deepest;
}

/**
 * Scalar's browser bundle from npm `@scalar/api-reference`, served by the service itself so the
 * page works with no internet. `deno install` puts it in `node_modules/`; `deno compile` embeds it
 * at the same place with `--include`.
 */
export const SCALAR_BUNDLE_PATH = "node_modules/@scalar/api-reference/dist/browser/standalone.js";
const scalarBundle = new URL(`../../${SCALAR_BUNDLE_PATH}`, import.meta.url);

function scalarBundleHandler() {
  let script: Promise<Uint8Array> | undefined; // read once, on first use
  return async (c: Context): Promise<Response> => {
    script ??= Deno.readFile(scalarBundle);
    const body = await script.catch((error) => {
      script = undefined;
      throw error;
    });
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "public, max-age=86400",
    });
  };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** `bytes` as text, or undefined when they are not valid UTF-8. */
export function utf8(bytes: ArrayBuffer | Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Whether every escape in `part` of a URL decodes, to valid UTF-8. */
function decodable(part: string): boolean {
  try {
    decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a request's head announces a body, as HTTP/1.1 says: chunked, or a length above 0.
 * Not `body !== null`: `Deno.serve` gives every DELETE a body.
 */
function sentBody(request: Request): boolean {
  const headers = request.headers;
  return headers.has("transfer-encoding") || Number(headers.get("content-length") ?? 0) > 0;
}
