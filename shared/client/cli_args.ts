// The command line's grammar: commands, flags and their checks, read with node:util's parseArgs.
// Only the CLI loads this module: the client library never parses flags.

import { parseArgs } from "node:util";
import { Key, Ttl } from "@cache/protocol/wire";

/** The commands, in the order the help lists them. */
export const COMMANDS = [
  "get",
  "set",
  "del",
  "mget",
  "mset",
  "stats",
  "nodes",
  "owners",
  "top",
] as const;

/** A command's name. */
export type Command = typeof COMMANDS[number];

/** The master used when neither `--url` nor `CACHE_URL` names one. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** Refreshes of `top` when `--interval-ms` is not given, in milliseconds. */
export const DEFAULT_INTERVAL_MS = 1000;

/** The shortest `--interval-ms` taken: shorter would only load the cluster. */
export const MIN_INTERVAL_MS = 100;

/** A command line that makes sense: what to do, to which cluster, and how to print it. */
export interface Invocation {
  /** The command, or `help` for `--help`/`-h`. */
  command: Command | "help";
  /** The arguments after the command: keys, a value. */
  args: string[];
  /** The masters' URLs, from `--url`, `CACHE_URL` or the default; several for HA. */
  urls: string[];
  /** Bearer token, from `--token` or `CACHE_TOKEN`. */
  token?: string;
  /** `--json`: one JSON document per command (per refresh for `top`). */
  json: boolean;
  /** `--proxy`: key commands go through the master. */
  proxy: boolean;
  /** `set --ttl`, in seconds. */
  ttlSeconds?: number;
  /** `mset --file`: where the items are; standard input without it. */
  file?: string;
  /** `top --interval-ms`. */
  intervalMs: number;
  /** `top --once`. */
  once: boolean;
}

/** A command line that does not make sense, with its one-line reason: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How the environment is read: `Deno.env` or a `Map`. */
export interface Env {
  get(name: string): string | undefined;
}

const FLAGS = {
  url: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean" },
  proxy: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ttl: { type: "string" },
  file: { type: "string" },
  "interval-ms": { type: "string" },
  once: { type: "boolean" },
} as const;

type Flag = keyof typeof FLAGS;

/** The flags only some commands take. */
const ONLY: Partial<Record<Flag, Command>> = {
  ttl: "set",
  file: "mset",
  "interval-ms": "top",
  once: "top",
};

/** Each command's arguments: how many, and how the help writes them. */
const USAGE: Record<Command, { min: number; max: number; usage: string }> = {
  get: { min: 1, max: 1, usage: "get <key>" },
  set: { min: 2, max: 2, usage: "set <key> <value> [--ttl <seconds>]" },
  del: { min: 1, max: 1, usage: "del <key>" },
  mget: { min: 1, max: Infinity, usage: "mget <key>..." },
  mset: { min: 0, max: 0, usage: "mset [--file <path>]" },
  stats: { min: 0, max: 0, usage: "stats" },
  nodes: { min: 0, max: 0, usage: "nodes" },
  owners: { min: 1, max: 1, usage: "owners <key>" },
  top: { min: 0, max: 0, usage: "top [--interval-ms <ms>] [--once]" },
};

/** The command names as a sentence: "get, set, … or top". */
const EXPECTED = `${COMMANDS.slice(0, -1).join(", ")} or ${COMMANDS.at(-1)}`;

/**
 * Reads a command line: flags anywhere (`--url`, `--token`, `--json`, `--proxy`, `-h`/`--help`,
 * and each command's own), the command, its arguments; `--` ends the flags. Flags win over
 * `CACHE_URL` and `CACHE_TOKEN`. Throws {@link UsageError} saying what is wrong.
 *
 * @example
 * ```ts
 * import { parseInvocation } from "./cli_args.ts";
 * const call = parseInvocation(["set", "k", "v", "--ttl", "60"], new Map());
 * call.command; // "set"
 * call.ttlSeconds; // 60
 * ```
 */
export function parseInvocation(args: string[], env: Env): Invocation {
  // Not strict: parseArgs' own errors are long and several lines; the tokens say enough to write
  // one line per mistake here.
  const { values, positionals, tokens } = parseArgs({
    args,
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const flag = FLAGS[token.name as Flag];
    if (!flag) {
      // `set k -1`: a value, read as a flag.
      const hint = /^-\.?\d/.test(token.rawName)
        ? 'a value that starts with "-" goes after "--"'
        : "see cache --help";
      throw new UsageError(`Unknown flag "${token.rawName}": ${hint}`);
    }
    if (flag.type === "string" && token.value === undefined) {
      throw new UsageError(`Flag --${token.name} needs a value`);
    }
    if (flag.type === "boolean" && token.value !== undefined) {
      throw new UsageError(`Flag --${token.name} takes no value`);
    }
  }
  const [name, ...rest] = positionals;
  const base = {
    urls: urlsOf(stringFlag(values.url) ?? nonEmpty(env.get("CACHE_URL")) ?? DEFAULT_URL),
    token: stringFlag(values.token) ?? nonEmpty(env.get("CACHE_TOKEN")),
    json: values.json === true,
    proxy: values.proxy === true,
    intervalMs: DEFAULT_INTERVAL_MS,
    once: false,
  };
  if (values.help === true) return { ...base, command: "help", args: [] };
  if (name === undefined) throw new UsageError(`Missing command: expected ${EXPECTED}`);
  if (!(COMMANDS as readonly string[]).includes(name)) {
    throw new UsageError(`Unknown command ${quote(name)}: expected ${EXPECTED}`);
  }
  const command = name as Command;
  for (const [flag, only] of Object.entries(ONLY)) {
    if (values[flag] !== undefined && only !== command) {
      throw new UsageError(`Flag --${flag} applies only to ${only}`);
    }
  }
  const { min, max, usage } = USAGE[command];
  if (rest.length < min) throw new UsageError(`Missing argument for ${command}: cache ${usage}`);
  if (rest.length > max) throw new UsageError(`Too many arguments for ${command}: cache ${usage}`);
  if (command !== "set") rest.forEach(checkKey);
  else checkKey(rest[0]);
  const ttl = stringFlag(values.ttl);
  const interval = stringFlag(values["interval-ms"]);
  return {
    ...base,
    command,
    args: rest,
    ttlSeconds: ttl === undefined ? undefined : ttlOf(ttl),
    file: stringFlag(values.file),
    intervalMs: interval === undefined ? DEFAULT_INTERVAL_MS : intervalOf(interval),
    once: values.once === true,
  };
}

/**
 * Throws {@link UsageError} when `key` is no key a node takes (empty, ".", "..", over 1024 bytes).
 *
 * @example
 * ```ts
 * import { checkKey } from "./cli_args.ts";
 * checkKey("user:42"); // fine
 * checkKey(""); // throws: Invalid key "": Key must not be empty
 * ```
 */
export function checkKey(key: string): void {
  const checked = Key.safeParse(key);
  if (!checked.success) {
    throw new UsageError(`Invalid key ${quote(key)}: ${checked.error.issues[0].message}`);
  }
}

/** `text` quoted on one line, cut short when long: for messages. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

function stringFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** The masters in `text`, separated by commas; each an http(s) URL. */
function urlsOf(text: string): string[] {
  const urls = text.split(",").map((url) => url.trim().replace(/\/+$/, "")).filter(Boolean);
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      // reported below
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol)) {
      throw new UsageError(`Invalid --url ${quote(url)}: expected http(s)://host:port`);
    }
  }
  if (urls.length === 0) throw new UsageError(`Invalid --url ${quote(text)}: no URL in it`);
  return urls;
}

function ttlOf(text: string): number {
  const seconds = text.trim() === "" ? NaN : Number(text);
  const checked = Ttl.safeParse(seconds);
  if (!checked.success) {
    throw new UsageError(`Invalid --ttl ${quote(text)}: ${checked.error.issues[0].message}`);
  }
  return checked.data;
}

function intervalOf(text: string): number {
  const ms = Number(text);
  if (text.trim() === "" || !Number.isInteger(ms) || ms < MIN_INTERVAL_MS) {
    throw new UsageError(
      `Invalid --interval-ms ${quote(text)}: expected a whole number of milliseconds, at least ` +
        MIN_INTERVAL_MS,
    );
  }
  return ms;
}

/** What `cache --help` prints. */
export const HELP = `cache: read, write and watch a cache cluster through its master

Usage: cache <command> [arguments] [flags]

Commands:
  get <key>            Print the value of <key>; nothing, and exit 1, when it is not stored
  set <key> <value>    Store <value> under <key> (--ttl <seconds> to expire it); prints OK
  del <key>            Delete <key>; prints 1, or 0 (and exit 1) when it was not stored
  mget <key>...        Print one line per key, "key<TAB>value", or "key<TAB>(nil)" when it is
                       not stored (exit 1 if any is not)
  mset                 Store the items of --file <path>, or of standard input; prints OK
  stats                The master's GET /stats: the cluster's counters, then each node's
  nodes                The master's GET /nodes: every node it knows, up or down
  owners <key>         The nodes that own <key>, one per line, primary first (GET /ring)
  top                  A live view per node: operations and reads per second, hit rate,
                       keys and memory, redrawn every --interval-ms; Ctrl-C ends it

Items of mset, in either form ("ttl", in seconds, is optional):
  JSON lines, one item per line:  {"key":"a","value":"1","ttl":60}
  one JSON array of items:        [{"key":"a","value":"1"},{"key":"b","value":"2"}]

Flags:
  --url <url>          The master, or several separated by commas (env CACHE_URL;
                       default ${DEFAULT_URL})
  --token <token>      Sent as a bearer token (env CACHE_TOKEN)
  --json               Print one JSON document per command (one line per refresh for top)
  --proxy              Send key commands through the master, not to each key's node
  --ttl <seconds>      set: seconds the key lives
  --file <path>        mset: read the items from this file instead of standard input
  --interval-ms <ms>   top: milliseconds between refreshes (default ${DEFAULT_INTERVAL_MS})
  --once               top: print one refresh, over one interval, and exit
  -h, --help           Print this help

Exit codes: 0 done, 1 a key was not found, 2 usage error, 3 the cluster failed or refused.
An argument that starts with "-" goes after "--": cache set k -- -1
`;
