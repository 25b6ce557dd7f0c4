// What both services' main.ts share: settings or exit 2, security files, and one serve helper
// that binds, answers, drains and stops on signals.

import { Auth, parseTokens, type Token } from "./auth.ts";
import { ConfigError, type Setting, usage } from "./config.ts";
import type { Logger } from "@cache/log/log";
import type { Answer } from "@cache/http1/answer";
import {
  type Handler,
  type HttpServer,
  type LiteRequest,
  serveHttp,
  type ServeInfo,
  type ServerOptions,
} from "@cache/http1/server";
import { Drain } from "./drain.ts";

/**
 * Loads settings with `load`, printing help and exiting 0 on `--help`, or printing the one-line
 * reason and exiting 2 on a bad flag or value.
 */
export function loadOrExit<T>(
  command: string,
  settings: Record<string, Setting>,
  load: (env: Record<string, string | undefined>, args: string[]) => T,
): T {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage(command, settings));
    Deno.exit(0);
  }
  try {
    return load(Deno.env.toObject(), Deno.args);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${command}: ${error.message}`);
    Deno.exit(2);
  }
}

/** The URL a bound server answers at; a wildcard host is reached through loopback. */
export function listenUrl(addr: Deno.NetAddr, secure = false): string {
  const host = addr.hostname === "0.0.0.0"
    ? "127.0.0.1"
    : addr.hostname === "::"
    ? "[::1]"
    : addr.hostname;
  const scheme = secure ? "https" : "http";
  return `${scheme}://${
    host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
  }:${addr.port}`;
}

/** The security settings both services read. */
export interface SecurityConfig {
  authFile?: string;
  authTokens?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  host: string;
}

/**
 * Reads the accepted tokens and the TLS files named in `config`, exiting 2 with one line naming the
 * flag when one cannot be read. Warns when the service runs open on a non-loopback address.
 */
export async function loadSecurity(command: string, config: SecurityConfig, log: Logger) {
  const fail = (flag: string, error: unknown): never => {
    console.error(
      `${command}: Invalid --${flag}: ${error instanceof Error ? error.message : error}`,
    );
    Deno.exit(2);
  };
  let tokens: Token[] = [];
  try {
    if (config.authTokens) tokens = parseTokens(config.authTokens);
  } catch (error) {
    fail("auth-tokens", error);
  }
  if (config.authFile) {
    let inFile: Token[] = [];
    try {
      inFile = parseTokens(await Deno.readTextFile(config.authFile));
    } catch (error) {
      fail("auth-file", error);
    }
    // A file given with no token in it would run the service open, without a word.
    if (inFile.length === 0) fail("auth-file", `${config.authFile} holds no token`);
    tokens = [...tokens, ...inFile];
  }
  const auth = await Auth.from(tokens);
  if (!auth.enabled && !["127.0.0.1", "localhost", "::1"].includes(config.host)) {
    log.warn("no tokens configured: anyone who can reach this address can use every route", {
      host: config.host,
    });
  }
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
    fail(config.tlsCert ? "tls-key" : "tls-cert", "--tls-cert and --tls-key go together");
  }
  // Checked here, so that a wrong file is named by its flag rather than found by the listener (a
  // stack trace) or by every call to a peer (the CA's).
  const read = async (flag: string, path: string, holds: keyof typeof PEM) => {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      return fail(flag, error);
    }
    return PEM[holds].test(text) ? text : fail(flag, `${path} holds no PEM ${holds}`);
  };
  const tls = config.tlsCert && config.tlsKey
    ? {
      cert: await read("tls-cert", config.tlsCert, "certificate"),
      key: await read("tls-key", config.tlsKey, "private key"),
    }
    : undefined;
  const caPem = config.tlsCa ? await read("tls-ca", config.tlsCa, "certificate") : undefined;
  return { auth, tls, caPem };
}

/** What the TLS flags' files must hold, as PEM blocks. */
const PEM = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  "private key": /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/,
};

/** Where a service listens, and how much any one client may hold of it. */
export interface ListenConfig {
  host: string;
  port: number;
  /** `deno`: `Deno.serve`, with none of the limits below. */
  httpServer: "own" | "deno";
  /** 0: none set; the descriptor limit, once reached, sets one below it. */
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  minBodyRate: number;
}

/** What a service answers with, once it is built. */
export interface Routes {
  /** The app: answers every request the steps before it leave. */
  app: { fetch: (request: Request, info: ServeInfo) => Response | Promise<Response> };
  /** Serves the app's hot routes ahead of it. */
  hot?: {
    serve: (request: LiteRequest) => Answer | Promise<Answer> | undefined;
    respond: (request: Request) => Response | Promise<Response> | undefined;
    /** The refusal of a request by its head, before a long body is read (see `HotPath`). */
    refuses?: (request: LiteRequest) => Response | undefined;
    /** Counts a request the server refused before any route saw it (see `HotPath`). */
    refused?: (status: number, method: string | undefined) => void;
  };
  /** Answers a request before the hot path and the app when it must not reach them. */
  gate?: (request: Request | LiteRequest) => Response | undefined;
}

/**
 * How far past its deadline a shutdown may run before the process ends regardless: a pod's grace
 * period must cover a service's drain time and this.
 *
 * @example
 * ```ts
 * const drainMs = 20_000;
 * const gracePeriodSeconds = Math.ceil((drainMs + HARD_STOP_MS) / 1000); // 22
 * ```
 */
export const HARD_STOP_MS = 2000;

/** A bound server: it answers 503 until {@link Service.serve} gives it its routes. */
export interface Service {
  /** The bound address; port 0 in the settings is the port chosen here. */
  addr: Deno.NetAddr;
  /** The URL the server answers at. */
  url: string;
  /** Starts answering with `routes`. */
  serve(routes: Routes): void;
  /**
   * On the first SIGTERM or SIGINT, runs `stop` (given the time it must end by), then waits for
   * the requests in flight until `drainMs` after the signal, then closes the server and exits.
   */
  onStop(stop: (deadline: number) => Promise<void>, drainMs: number): void;
}

/**
 * Binds the server `config` describes, over TLS with `tls`, and returns it before it has routes,
 * so the app can be built knowing the bound address. A port that cannot be bound (in use, or not
 * allowed) exits 2 with one line naming it, as a bad setting does.
 *
 * @example
 * ```ts
 * const service = startService("node", config, undefined, log);
 * service.serve({ app: createApp({ advertise: service.url }) });
 * service.onStop(async () => {}, 20_000);
 * ```
 */
export function startService(
  command: string,
  config: ListenConfig,
  tls: { cert: string; key: string } | undefined,
  log: Logger,
): Service {
  const drain = new Drain();
  let routes: Routes | undefined;
  const handle = (request: Request, info: ServeInfo) =>
    drain.track(() => {
      if (!routes) return Response.json({ error: "Starting" }, { status: 503 });
      const { app, hot, gate } = routes;
      return gate?.(request) ?? hot?.respond(request) ?? app.fetch(request, info);
    });
  // A body-less request is first offered to the hot path before any Request is built.
  const early = (request: LiteRequest) => {
    if (!routes?.hot) return undefined;
    const answer = routes.gate?.(request) ?? routes.hot.serve(request);
    // An answer given at once is already done; only one still coming is in flight.
    return answer instanceof Promise ? drain.track(() => answer) : answer;
  };
  // A long body is read only once the head was let in: no token, no body held.
  const admit = (request: LiteRequest) => routes?.hot?.refuses?.(request);
  const refused = (status: number, method: string | undefined) =>
    routes?.hot?.refused?.(status, method);
  const server = bind(command, config, tls, handle, log, { early, admit, refused });
  let stopping = false;
  return {
    addr: server.addr,
    url: listenUrl(server.addr, tls !== undefined),
    serve: (given) => routes = given,
    onStop: (stop, drainMs) => {
      const handler = () => {
        if (stopping) return;
        stopping = true;
        log.info("shutting down");
        const deadline = Date.now() + drainMs;
        // A call that hangs past every timeout (a name that never resolves, say) must not keep
        // the process up: a little past its deadline, it ends anyway.
        setTimeout(() => {
          log.error("shutdown ran past its deadline: exiting now", { drainMs });
          Deno.exit(1);
        }, drainMs + HARD_STOP_MS);
        const left = () => Math.max(0, deadline - Date.now());
        stop(deadline)
          .then(() => drain.idle(left()))
          .then(() => server.shutdown(left())) // a request or answer still going then is cut
          .then(() => {
            log.info("stopped");
            Deno.exit(0);
          }, (error) => {
            log.error("shutdown failed", { error: String(error) });
            Deno.exit(1);
          });
      };
      Deno.addSignalListener("SIGTERM", handler);
      Deno.addSignalListener("SIGINT", handler);
    },
  };
}

/** Serves `handler` as `config` says, or exits 2 with one line when it cannot listen so. */
function bind(
  command: string,
  config: ListenConfig,
  tls: { cert: string; key: string } | undefined,
  handler: Handler,
  log: Logger,
  before: Pick<ServerOptions, "early" | "admit" | "refused">,
): HttpServer {
  try {
    if (config.httpServer === "deno") return denoServer(config, tls, handler);
    return serveHttp({
      hostname: config.host,
      port: config.port,
      ...tls,
      maxConnections: config.maxConnections,
      headerTimeoutMs: config.headerTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      minBodyBytesPerSecond: config.minBodyRate,
      log,
      ...before,
    }, handler);
  } catch (error) {
    // A port taken, an address of no interface here, a name that does not resolve, or TLS files
    // the listener cannot use: the settings', not a bug.
    const reason = error instanceof Error ? error.message : String(error);
    console.error(`${command}: Cannot listen on ${config.host}:${config.port}: ${reason}`);
    Deno.exit(2);
  }
}

/** `Deno.serve` behind the same face: faster reads, but no cap on connections and no timeouts. */
function denoServer(
  config: ListenConfig,
  tls: { cert: string; key: string } | undefined,
  handler: Handler,
): HttpServer {
  const server = Deno.serve(
    { hostname: config.host, port: config.port, onListen: () => {}, ...tls },
    (request, info) => handler(request, { remoteAddr: info.remoteAddr as Deno.NetAddr }),
  );
  return {
    addr: server.addr as Deno.NetAddr,
    connections: NaN, // not counted by Deno.serve
    // Deno.serve cannot close a busy connection: past the time, the process exits from under it.
    shutdown: async (timeoutMs = Infinity) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise<void>((resolve) => {
          if (timeoutMs !== Infinity) timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
