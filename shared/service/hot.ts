// The one hot path: a route declared hot is served ahead of the app by one dispatcher, with the
// same handler, schemas, access checks, headers and metrics as the app's, tokens or not.

import type { OpenAPIHono, RouteConfig, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type Answer, madeOf, partsOf, toResponse, type WireAnswer } from "@cache/http1/answer";
import type { LiteRequest } from "@cache/http1/server";
import { readBudgetOf } from "@cache/http1/unread_budget";
import { errorResponse } from "./error_response.ts";
import { isPlainSegment } from "@cache/protocol/key_path";
import type { Logger } from "@cache/log/log";
import { jsonDepth, MAX_JSON_DEPTH, utf8 } from "./api.ts";
import { type AccessRules, type Auth, type Role, ROLES, rolesFor } from "./auth.ts";
import type { Metrics } from "./metrics.ts";
import { type RecordRequest, requestRecorder, routeNamer } from "./observe.ts";

/** What the hot path shares with the app it serves ahead of. */
export interface HotPathOptions {
  metrics: Metrics;
  log: Logger;
  /** The app's tokens; with none, every route is open, as in the app. */
  auth?: Auth;
  /** The app's access rules, which the hot path applies to its routes too. */
  rules?: AccessRules;
  /** The headers the app adds to every answer (`ApiOptions.headers`), added to the hot path's. */
  headers?: () => Record<string, string> | undefined;
  /** Bodies larger than this go to the app, which refuses them with 413. */
  maxBodyBytes: number;
}

/** Answers a hot GET from its validated path parameters. */
export type ReadHandler<P> = (params: P) => Answer | Promise<Answer>;

/**
 * Answers a hot POST from its validated body, the request (whose body is read already) and the
 * body as sent, as text (made when asked for, while the handler runs).
 */
export type WriteHandler<B> = (
  body: B,
  request: HotRequest,
  text: () => string,
) => Answer | Promise<Answer>;

/**
 * Reads a hot POST's body straight from its bytes, or returns undefined for the JSON parser and
 * the route's schema to judge it. It must take only what they would take, with the same meaning.
 */
export type BytesReader<R> = (bytes: Uint8Array) => R | undefined;

/**
 * A request for a hot route: a whole Request, or its head and whole body as the server read them.
 */
export type HotRequest = Request | LiteRequest;

/** A body the route's schema (or its bytes reader) took, and its text. */
interface Parsed {
  body: unknown;
  text: () => string;
}

interface HotGet {
  route: string;
  prefix: string;
  /** The route's path parameters from its one segment. */
  params: (segment: string) => Record<string, string>;
  schema: z.ZodType;
  read: ReadHandler<never>;
  roles?: Role[];
}

interface HotPost {
  route: string;
  schema: z.ZodType;
  read?: BytesReader<unknown>;
  handle: WriteHandler<never>;
  roles?: Role[];
}

// The content types services send each other, which the app accepts too; it judges any other.
const PLAIN_JSON = /^application\/json(;\s*charset=utf-8)?$/i;

/**
 * Routes served twice from one declaration and one handler: by the app, and ahead of it by
 * {@link HotPath.serve} (or {@link HotPath.respond}, as a Response), which skips the app's router
 * and middleware chain. What the hot path
 * cannot answer exactly as the app would (an escaped key, a body the schema refuses, a chunked
 * body) it leaves to the app.
 *
 * @example
 * ```ts
 * const hot = new HotPath(app, { metrics, log, maxBodyBytes: 1 << 20 });
 * hot.get(keyRoutes.get, ({ key }) => Response.json({ key, value: "v" }));
 * Deno.serve((request) => hot.respond(request) ?? app.fetch(request));
 * ```
 */
export class HotPath {
  readonly #app: OpenAPIHono;
  readonly #options: HotPathOptions;
  readonly #record: RecordRequest;
  readonly #gets: HotGet[] = [];
  readonly #posts = new Map<string, HotPost>();
  /**
   * The route template of the app's routes that `method` and `path` (as the router reads it, see
   * {@link routerPath}) go to, as the request metrics label it, or `unmatched`: for answers given
   * before the app sees a request.
   */
  readonly routeOf: (method: string, path: string) => string;

  constructor(app: OpenAPIHono, options: HotPathOptions) {
    this.#app = app;
    this.#options = options;
    this.#record = requestRecorder(options.metrics);
    this.routeOf = routeNamer(app);
  }

  /** The app this hot path serves ahead of, for the routes that are not hot. */
  get app(): OpenAPIHono {
    return this.#app;
  }

  /** Serves `route`, a GET with one path parameter, with `read`: on the app and ahead of it. */
  get<P extends z.ZodObject>(
    route: RouteConfig & { method: "get"; request: { params: P } },
    read: ReadHandler<z.infer<P>>,
  ): void {
    this.#app.openapi(
      route,
      (async (c: Context) => {
        const params = c.req.valid("param" as never);
        return toResponse(await withinBudget(c.req.raw, () => read(params)));
      }) as never,
    );
    const open = route.path.indexOf("{");
    this.#gets.push({
      route: route.path,
      prefix: route.path.slice(0, open),
      params: paramsOf(route.path.slice(open + 1, -1)),
      schema: route.request.params,
      read: read as ReadHandler<never>,
      roles: this.#roles(route.path),
    });
  }

  /**
   * Serves `route`, a POST with a JSON body, with `handle`: on the app and ahead of it. With
   * `read`, the hot path first reads a body from its bytes that way (see {@link BytesReader}), and
   * `handle` gets what it reads.
   */
  post<B extends z.ZodType, R = never>(
    route: RouteConfig & {
      method: "post";
      request: { body: { content: { "application/json": { schema: B } } } };
    },
    handle: WriteHandler<z.infer<B> | R>,
    read?: BytesReader<R>,
  ): void {
    this.#app.openapi(
      route,
      (async (c: Context) => {
        const text = await c.req.text();
        const body = c.req.valid("json" as never);
        return toResponse(await withinBudget(c.req.raw, () => handle(body, c.req.raw, () => text)));
      }) as never,
    );
    this.#posts.set(route.path, {
      route: route.path,
      schema: route.request.body.content["application/json"].schema,
      read,
      handle: handle as WriteHandler<never>,
      roles: this.#roles(route.path),
    });
  }

  /**
   * The 401 or 403 that `request`, with a long body, gets by its head alone when its token does not
   * pass the access rules of its path, or the 413 of a body past the limit, else undefined: asked
   * before the body is read, which the service then never holds (see `ServerOptions.admit`). A
   * path no rule guards takes no body (no route there does: the app answers 404 or 405), so a body
   * sent there needs a token of any role: such bodies were read whole, up to 8 MiB a connection,
   * before the app's answer. The app checks every request it serves again, as it always does.
   */
  refuses(request: LiteRequest): Response | undefined {
    const started = performance.now();
    const path = routerPath(request.url); // as the app's own check will read it
    const roles = this.#roles(path) ?? (this.#options.auth?.enabled ? ROLES : undefined);
    const refused = (roles ? this.#admit(request, roles, path) : undefined) ??
      this.#tooLong(request);
    // Counted as the app counts what it answers: a flood of them must show in the request metrics.
    if (refused) {
      this.#record(request.method, this.routeOf(request.method, path), refused.status, started);
    }
    return refused;
  }

  /**
   * Counts a request the server refused before any route saw it (a malformed head, a body cut
   * short), as `unmatched`, with its method once its head was read (see `ServerOptions.refused`):
   * uncounted, a flood of them did not show in the request metrics.
   */
  refused(status: number, method: string | undefined): void {
    this.#record(method ?? "other", "unmatched", status, performance.now());
  }

  /**
   * The app's 413 for a body whose Content-Length passes the limit, on any route (none takes a
   * longer one): the server read such bodies whole up to 8 MiB a connection, whatever the limit,
   * before the app refused them.
   */
  #tooLong(request: LiteRequest): Response | undefined {
    const { maxBodyBytes } = this.#options;
    const length = Number(request.headers.get("content-length") ?? NaN);
    if (!(length > maxBodyBytes)) return undefined; // chunked: the app counts it as it comes
    return Response.json({ error: `Request body is larger than ${maxBodyBytes} bytes` }, {
      status: 413,
    });
  }

  #roles(path: string): Role[] | undefined {
    const { auth, rules } = this.#options;
    return auth?.enabled && rules ? rolesFor(rules, path) : undefined;
  }

  /**
   * Answers a request for a hot route, or returns undefined for the app to serve it. A request may
   * be given as its head and whole body, before any Request is built: then a body the hot path
   * cannot take is left (at once) for the server to build the Request the app refuses.
   */
  serve(request: HotRequest): Answer | Promise<Answer> | undefined {
    if (request.method === "GET") return this.#get(request);
    return this.#post(request);
  }

  /**
   * Like {@link serve}, as a Response, for a server that takes only those: a written answer is one
   * already, with no promise turn added.
   */
  respond(request: Request): Response | Promise<Response> | undefined {
    const answer = request.method === "GET" ? this.#get(request) : this.#post(request);
    if (answer === undefined || answer instanceof Response) return answer;
    return answer instanceof Promise ? answer.then(toResponse) : toResponse(answer);
  }

  #get(request: HotRequest): Answer | Promise<Answer> | undefined {
    const url = request.url;
    const start = pathStart(url);
    for (const hot of this.#gets) {
      if (!url.startsWith(hot.prefix, start)) continue;
      const segment = url.slice(start + hot.prefix.length);
      // An escaped segment needs decoding, and the app's check that it decodes to UTF-8.
      if (!isPlainSegment(segment)) return undefined;
      const parsed = hot.schema.safeParse(hot.params(segment));
      if (!parsed.success) return undefined; // the app answers with its own 400
      const started = performance.now();
      if (hot.roles) {
        const refused = this.#admit(request, hot.roles, url.slice(start));
        if (refused) return this.#done("GET", hot.route, refused, started);
      }
      const answer = this.#read(hot, parsed.data as never, request, start);
      return answer instanceof Promise
        ? answer.then((done) => this.#done("GET", hot.route, done, started))
        : this.#done("GET", hot.route, answer, started);
    }
    return undefined;
  }

  // A read that answers at once is answered at once: a server sends an answer returned
  // synchronously on a shorter path than one behind a promise.
  #read(hot: HotGet, params: never, request: HotRequest, start: number): Answer | Promise<Answer> {
    const url = request.url;
    try {
      const answer = withinBudget(request, () => hot.read(params));
      if (!(answer instanceof Promise)) return answer;
      return answer.catch((error) => this.#failure(error, "GET", url.slice(start)));
    } catch (error) {
      return this.#failure(error, "GET", url.slice(start));
    }
  }

  #post(request: HotRequest): Answer | Promise<Answer> | undefined {
    if (request.method !== "POST") return undefined;
    const url = request.url;
    const hot = this.#posts.get(url.slice(pathStart(url))); // a query string finds no route
    if (hot === undefined) return undefined;
    const length = Number(request.headers.get("content-length") ?? NaN);
    if (!(length <= this.#options.maxBodyBytes)) return undefined; // chunked or large: the app's
    const type = request.headers.get("content-type");
    if (type === null || !PLAIN_JSON.test(type)) return undefined; // other types: the app's rules
    const started = performance.now();
    if (hot.roles) {
      const refused = this.#admit(request, hot.roles, hot.route);
      if (refused) return this.#done("POST", hot.route, refused, started);
    }
    if (request instanceof Request) return this.#readBody(hot, request, started);
    // Read whole by the server: parsed now, so that a body the app must refuse is left to it.
    const parsed = request.wholeBody && parse(hot, request.wholeBody);
    return parsed ? this.#handle(hot, request, started, parsed) : undefined;
  }

  /** Reads the body of `request` and answers it; what the route cannot take goes to the app. */
  async #readBody(hot: HotPost, request: Request, started: number): Promise<Answer> {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await request.bytes();
    } catch {
      // The client went away mid-body: nobody reads the answer, but it is still one.
      const gone = Response.json({ error: "Request body could not be read" }, { status: 400 });
      return this.#done("POST", hot.route, gone, started);
    }
    const parsed = parse(hot, bytes);
    if (parsed) return await this.#handle(hot, request, started, parsed);
    // The app's exact refusal, its headers included; it counts the request itself.
    const { method, headers } = request;
    return await this.#app.fetch(new Request(request.url, { method, headers, body: bytes }));
  }

  // An answer made at once is given at once, as a read's is: the server counts its bytes against
  // the unread answers' budget before it makes the next request's (behind a promise, a burst of 40
  // large `/mget`s was each made before any was counted: 1.3 GB, and the node stalled 6 s). The
  // answer may be its parts, which the services' own server writes as they are: a Response built
  // only to be read back cost 7 us more an answer (`Response` and `encodeResponse()` against
  // `encodeWire()`).
  #handle(
    hot: HotPost,
    request: HotRequest,
    started: number,
    parsed: Parsed,
  ): Answer | Promise<Answer> {
    const path = hot.route;
    let answer: Answer | Promise<Answer>;
    try {
      answer = withinBudget(request, () => hot.handle(parsed.body as never, request, parsed.text));
    } catch (error) {
      answer = this.#failure(error, "POST", path);
    }
    if (!(answer instanceof Promise)) return this.#done("POST", path, answer, started);
    return answer.then(
      (done) => this.#done("POST", path, done, started),
      (error) => this.#done("POST", path, this.#failure(error, "POST", path), started),
    );
  }

  #admit(request: HotRequest, roles: readonly Role[], path: string): Response | undefined {
    return this.#options.auth!.admit(request, roles, path);
  }

  #failure(error: unknown, method: string, path: string): Response {
    return errorResponse(error, method, path, this.#options.log);
  }

  #done(method: string, route: string, answer: Answer, started: number): Answer {
    this.#record(method, route, answer.status, started);
    const headers = this.#options.headers?.();
    if (headers === undefined) return answer;
    if (answer instanceof Response) {
      for (const [name, value] of Object.entries(headers)) answer.headers.set(name, value);
      const parts = partsOf(answer); // a server writes these, not the Response
      return parts
        ? madeOf(answer, { ...parts, headers: { ...parts.headers, ...headers } })
        : answer;
    }
    const merged = answer.headers ? { ...answer.headers, ...headers } : headers;
    return { ...answer, headers: merged } satisfies WireAnswer;
  }
}

/**
 * `bytes` as the body `hot` takes, read by its bytes reader or parsed as JSON its schema takes;
 * undefined when the app must refuse it: not UTF-8, not JSON, nested past the app's limit, or
 * not what the schema says.
 */
function parse(hot: HotPost, bytes: Uint8Array): Parsed | undefined {
  const read = hot.read?.(bytes);
  if (read !== undefined) return { body: read, text: () => utf8(bytes)! };
  const text = utf8(bytes);
  if (text === undefined) return undefined;
  try {
    // The app's nesting limit first: a schema that drops unknown fields would not see them.
    if (jsonDepth(text) > MAX_JSON_DEPTH) return undefined;
    const parsed = hot.schema.safeParse(JSON.parse(text));
    return parsed.success ? { body: parsed.data, text: () => text } : undefined;
  } catch {
    return undefined; // not JSON: the app says so
  }
}

/**
 * What `make` answers, unless the server's unread-answers budget has no room for the request's
 * answer (503); an answer made at once is counted at once, before another request's is made
 * (see `ReadBudget`). A request from another server has no budget: `make` answers.
 */
function withinBudget(
  request: HotRequest,
  make: () => Answer | Promise<Answer>,
): Answer | Promise<Answer> {
  const budget = readBudgetOf(request);
  if (budget === undefined) return make();
  const full = budget.full();
  if (full !== undefined) return Response.json({ error: full }, { status: 503 });
  const answer = make();
  if (!(answer instanceof Promise)) {
    budget.made(bodyBytes(answer));
    return answer;
  }
  return answer.then((done) => {
    budget.made(bodyBytes(done));
    return done;
  });
}

/** About the bytes of an answer's body: its characters for text; 0 for a Response's, unread. */
function bodyBytes(answer: Answer): number {
  return answer instanceof Response ? 0 : answer.body.length;
}

/**
 * The path of the absolute `url` as the app's router reads it: without the query or a fragment,
 * its escapes decoded; where a malformed escape fails the whole, each valid run of escapes on its
 * own (`/%72eplicate?x` is `/replicate`).
 *
 * @example
 * ```ts
 * import { routerPath } from "./hot.ts";
 * routerPath("http://127.0.0.1:8081/%6Beys/k?x=1"); // "/keys/k"
 * ```
 */
export function routerPath(url: string): string {
  const path = url.slice(pathStart(url)).split(/[?#]/)[0];
  if (!path.includes("%")) return path;
  try {
    return decodeURI(path);
  } catch {
    return path.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURI(run);
      } catch {
        return run;
      }
    });
  }
}

/** Where the path starts in an absolute URL: after the scheme's `//` and the host. */
function pathStart(url: string): number {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start < 0 ? url.length : start;
}

/**
 * Builds the path parameters of a route with one, `{ [name]: segment }`, as an object of one fixed
 * shape: a computed key in a literal makes a slower object on every request.
 */
function paramsOf(name: string): (segment: string) => Record<string, string> {
  const template: Record<string, string> = { [name]: "" };
  return (segment) => {
    const params = { ...template };
    params[name] = segment;
    return params;
  };
}
