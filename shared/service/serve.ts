// Start-up steps both services' main.ts share: settings or exit 2, and the "listening" log line.

import { Auth, parseTokens, type Token } from "./auth.ts";
import { ConfigError, type Setting, usage } from "./config.ts";
import type { Logger } from "../log/log.ts";
import { type Handler, type HttpServer, serveHttp, type ServerOptions } from "../http1/server.ts";

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

/** Runs `stop` once on the first SIGTERM or SIGINT. */
export function onStopSignal(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down");
    stop().then(() => {
      log.info("stopped");
      Deno.exit(0);
    }, (error) => {
      log.error("shutdown failed", { error: String(error) });
      Deno.exit(1);
    });
  };
  Deno.addSignalListener("SIGTERM", handler);
  Deno.addSignalListener("SIGINT", handler);
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
    try {
      tokens = [...tokens, ...parseTokens(await Deno.readTextFile(config.authFile))];
    } catch (error) {
      fail("auth-file", error);
    }
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
  const read = async (flag: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      return fail(flag, error);
    }
  };
  const tls = config.tlsCert && config.tlsKey
    ? { cert: await read("tls-cert", config.tlsCert), key: await read("tls-key", config.tlsKey) }
    : undefined;
  const caPem = config.tlsCa ? await read("tls-ca", config.tlsCa) : undefined;
  return { auth, tls, caPem };
}

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

/**
 * Serves `handler` as `config` says, over TLS with `tls`. A port that cannot be bound (in use, or
 * not allowed) exits 2 with one line naming it, as a bad setting does.
 */
export function listen(
  command: string,
  config: ListenConfig,
  tls: { cert: string; key: string } | undefined,
  handler: Handler,
  log: Logger,
  early?: ServerOptions["early"],
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
      early,
    }, handler);
  } catch (error) {
    if (
      !(error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.PermissionDenied)
    ) {
      throw error;
    }
    console.error(`${command}: Cannot listen on ${config.host}:${config.port}: ${error.message}`);
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
    shutdown: () => server.shutdown(),
  };
}
