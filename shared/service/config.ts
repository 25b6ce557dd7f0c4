// Settings read from flags and environment variables, validated by zod, for both services.

import { parseArgs } from "node:util";
import { z } from "zod";
import { LEVELS } from "@cache/log/log";
import { parseOrigin } from "@cache/protocol/origin";

/** One setting: its flag (without dashes), its environment variable, schema and help text. */
export interface Setting<S extends z.ZodType = z.ZodType> {
  flag: string;
  env: string;
  schema: S;
  help: string;
}

/** The values of a group of settings. */
export type Settings<T extends Record<string, Setting>> = {
  [K in keyof T]: z.output<T[K]["schema"]>;
};

/** A setting that has a bad value or a flag that does not exist; the message names it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A TCP port, 0 meaning any free port. */
export const port = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback);

/** A whole number of milliseconds or bytes, at least `min`. */
export const count = (fallback: number, min = 1) =>
  z.coerce.number().int().min(min).default(fallback);

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};

/**
 * Parses a size the way Redis does: bytes, or a number with `k`/`m`/`g` (powers of 1000) or
 * `kb`/`mb`/`gb` (powers of 1024), any case. Returns `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { parseBytes } from "./config.ts";
 * parseBytes("64mb"); // 67108864
 * parseBytes("1gb"); // 1073741824
 * parseBytes("500"); // 500
 * ```
 */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match && UNITS[match[2].toLowerCase()];
  if (!match || unit === undefined || unit === null) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A size in bytes written as `64mb`, `1gb` or a plain number; 0 allowed. */
export const bytes = (fallback: number) =>
  z.union([z.string(), z.number()]).default(fallback)
    .refine(
      (v) => parseBytes(String(v)) !== undefined,
      "expected bytes such as 1048576, 64mb or 1gb",
    )
    .transform((v) => parseBytes(String(v))!);

/** The `--port` and `--host` settings both services have; `defaultPort` differs. */
export const listenSettings = (defaultPort: number) => ({
  port: {
    flag: "port",
    env: "PORT",
    schema: port(defaultPort),
    help: "Port to listen on (0: any free port)",
  },
  host: {
    flag: "host",
    env: "HOST",
    schema: z.string().min(1).default("0.0.0.0"),
    help: "Address to bind",
  },
  httpServer: {
    flag: "http-server",
    env: "HTTP_SERVER",
    schema: z.enum(["own", "deno"]).default("own"),
    help: "own: capped connections and timeouts (the limits below); deno: Deno.serve, faster " +
      "reads but none of those limits, for a trusted network only",
  },
  maxConnections: {
    flag: "max-connections",
    env: "MAX_CONNECTIONS",
    schema: count(0, 0),
    help: "Open client connections at most; past it, 503 and close (0: none, until the " +
      "open-file limit is reached, which sets one 64 below it)",
  },
  headerTimeoutMs: {
    flag: "header-timeout-ms",
    env: "HEADER_TIMEOUT_MS",
    schema: count(10_000),
    help: "Milliseconds a request's head (or a TLS handshake) may take once it began",
  },
  idleTimeoutMs: {
    flag: "idle-timeout-ms",
    env: "IDLE_TIMEOUT_MS",
    schema: count(60_000),
    help: "Milliseconds a kept-alive connection may wait for its next request",
  },
  minBodyRate: {
    flag: "min-body-rate",
    env: "MIN_BODY_RATE",
    schema: bytes(1024),
    help: "Bytes per second a request body must keep up, after a head timeout's grace",
  },
});

/** The `--log-level` setting both services have. */
export const logLevel = () => ({
  flag: "log-level",
  env: "LOG_LEVEL",
  schema: z.enum(LEVELS).default("info"),
  help: "Least severe log lines written: debug, info, warn or error",
});

/** The settings of tokens and TLS, the same on both services (`token` differs by service). */
export const securitySettings = {
  authFile: {
    flag: "auth-file",
    env: "AUTH_FILE",
    schema: z.string().optional(),
    help: "File of accepted tokens: JSON, or one role:token per line (roles: client, node, admin)",
  },
  authTokens: {
    flag: "auth-tokens",
    env: "AUTH_TOKENS",
    schema: z.string().optional(),
    help: "Accepted tokens as role:token,role:token (prefer --auth-file or the variable)",
  },
  metricsAuth: {
    flag: "metrics-auth",
    env: "METRICS_AUTH",
    schema: z.enum(["true", "false"]).optional().transform((v) =>
      v === undefined ? undefined : v === "true"
    ),
    help: "Require an admin token for /metrics (true or false; default: true once tokens are set)",
  },
  tlsCert: {
    flag: "tls-cert",
    env: "TLS_CERT",
    schema: z.string().optional(),
    help: "PEM certificate file: serve HTTPS (with --tls-key)",
  },
  tlsKey: {
    flag: "tls-key",
    env: "TLS_KEY",
    schema: z.string().optional(),
    help: "PEM private key file of --tls-cert",
  },
  tlsCa: {
    flag: "tls-ca",
    env: "TLS_CA",
    schema: z.string().optional(),
    help: "PEM file of the CA that peers' certificates are signed by, for outgoing calls",
  },
} as const;

/** Settings whose values never appear in logs. */
export const SECRET_SETTINGS = ["authTokens", "token"];

/** `config` with its secret values replaced, for the start-up log line. */
export function redacted(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).map((
      [k, v],
    ) => [k, SECRET_SETTINGS.includes(k) && v ? "[redacted]" : v]),
  );
}

/** An http(s) URL without a path, normalized to its origin (`http://host:port`). */
export const origin = () =>
  z.string().refine(
    (text) => parseOrigin(text) !== undefined,
    "expected an http(s) URL such as http://127.0.0.1:8080",
  )
    .transform((text) => parseOrigin(text)!);

/** A comma-separated list of http(s) URLs without paths, each normalized to its origin. */
export const origins = () =>
  z.string().transform((text) => text.split(",").map((part) => part.trim()).filter(Boolean))
    .pipe(
      z.array(origin()).min(1, "expected one or more http(s) URLs, separated by commas"),
    );

/**
 * `args` with a flag and a negative number after it as one (`--port -1` as `--port=-1`): node:util
 * reads the number as a flag, and refuses the pair in three lines that name no setting, where the
 * setting's own check names it in one.
 *
 * @example
 * ```ts
 * import { joinNegatives } from "./config.ts";
 * joinNegatives(["--port", "-1", "--quiet"]); // ["--port=-1", "--quiet"]
 * ```
 */
export function joinNegatives(args: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (/^--[^=]+$/.test(args[i]) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else joined.push(args[i]);
  }
  return joined;
}

/**
 * Reads `settings` from `args` (flags win) and `env`; an empty variable counts as unset.
 * Throws {@link ConfigError} naming the flag on an unknown flag or a bad value.
 *
 * @example
 * ```ts
 * import { loadSettings, port } from "./config.ts";
 * const spec = { port: { flag: "port", env: "PORT", schema: port(8080), help: "Port" } };
 * loadSettings(spec, { PORT: "9000" }, ["--port", "9001"]); // { port: 9001 }
 * ```
 */
export function loadSettings<T extends Record<string, Setting>>(
  settings: T,
  env: Record<string, string | undefined>,
  args: string[],
): Settings<T> {
  const options = Object.fromEntries(
    Object.values(settings).map((s) => [s.flag, { type: "string" as const }]),
  );
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({ args: joinNegatives(args), options, strict: true, allowPositionals: false })
      .values;
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings)) {
    const raw = flags[setting.flag] ?? (env[setting.env] || undefined);
    const parsed = setting.schema.safeParse(raw);
    if (!parsed.success) {
      const reason = parsed.error.issues[0]?.message ?? "invalid value";
      throw new ConfigError(`Invalid --${setting.flag} (${setting.env}) "${raw}": ${reason}`);
    }
    values[name] = parsed.data;
  }
  return values as Settings<T>;
}

/** A help text listing each flag, its variable and what it does. */
export function usage(command: string, settings: Record<string, Setting>): string {
  const rows = Object.values(settings).map((s) =>
    `  --${s.flag.padEnd(22)} ${s.env.padEnd(22)} ${s.help}`
  );
  return [
    `Usage: ${command} [flags]`,
    "",
    "  flag                     env                    meaning",
    ...rows,
  ]
    .join("\n");
}
