// The command line's grammar: commands, flags and their checks, read with node:util's parseArgs.
// Only the CLI loads this module: the client library never parses flags.

import { parseArgs } from "node:util";
import type { SetCondition } from "./conditions.ts";
import { InvalidMasterUrl, masterUrls, tokenOf, withoutCredentials } from "./options.ts";
import {
  amountOf,
  checkKey,
  countOf,
  intervalOf,
  prefixOf,
  quote,
  requestIdOf,
  touchTtlOf,
  ttlOf,
  UsageError,
  versionOf,
} from "./cli_values.ts";

/** The commands, in the order the help lists them. */
export const COMMANDS = [
  "get",
  "set",
  "del",
  "incr",
  "decr",
  "touch",
  "mget",
  "mset",
  "scan",
  "flush",
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
  /** `--ttl` of `set`, `incr` and `decr`, in seconds. */
  ttlSeconds?: number;
  /** `set --nx`, `--xx`, `--if-version`: the condition of the write; none without them. */
  condition?: SetCondition;
  /** `incr` and `decr`: the amount to add, negative to take (`decr` negates its argument). */
  by?: number;
  /** `incr --request-id`. */
  requestId?: string;
  /** `incr --retry`: the increment was sent before with that request id. */
  retry?: boolean;
  /** `touch`: its TTL argument, in seconds, or null for `none`. */
  touchTtl?: number | null;
  /** `scan`: its prefix argument, if any. */
  prefix?: string;
  /** `scan --count`: keys per page. */
  count?: number;
  /** `mset --file`: where the items are; standard input without it. */
  file?: string;
  /** `top --interval-ms`. */
  intervalMs: number;
  /** `top --once`. */
  once: boolean;
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
  nx: { type: "boolean" },
  xx: { type: "boolean" },
  "if-version": { type: "string" },
  "request-id": { type: "string" },
  retry: { type: "boolean" },
  count: { type: "string" },
  yes: { type: "boolean" },
  file: { type: "string" },
  "interval-ms": { type: "string" },
  once: { type: "boolean" },
} as const;

type Flag = keyof typeof FLAGS;

/** The flags only some commands take. */
const ONLY: Partial<Record<Flag, Command[]>> = {
  ttl: ["set", "incr", "decr"],
  nx: ["set"],
  xx: ["set"],
  "if-version": ["set"],
  "request-id": ["incr", "decr"],
  retry: ["incr", "decr"],
  count: ["scan"],
  yes: ["flush"],
  file: ["mset"],
  "interval-ms": ["top"],
  once: ["top"],
};

/** The flags of a set's condition, of which one at most is given. */
const CONDITIONS = ["nx", "xx", "if-version"] as const;

/** Each command's arguments: how many, and how the help writes them. */
const USAGE: Record<Command, { min: number; max: number; usage: string }> = {
  get: { min: 1, max: 1, usage: "get <key>" },
  set: {
    min: 2,
    max: 2,
    usage: "set <key> <value> [--ttl <seconds>] [--nx | --xx | --if-version <version>]",
  },
  del: { min: 1, max: 1, usage: "del <key>" },
  incr: {
    min: 1,
    max: 2,
    usage: "incr <key> [<by>] [--ttl <seconds>] [--request-id <id> [--retry]]",
  },
  decr: {
    min: 1,
    max: 2,
    usage: "decr <key> [<by>] [--ttl <seconds>] [--request-id <id> [--retry]]",
  },
  touch: { min: 2, max: 2, usage: "touch <key> <seconds|none>" },
  mget: { min: 1, max: Infinity, usage: "mget <key>..." },
  mset: { min: 0, max: 0, usage: "mset [--file <path>]" },
  scan: { min: 0, max: 1, usage: "scan [<prefix>] [--count <n>]" },
  flush: { min: 0, max: 0, usage: "flush --yes" },
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
    // Own names only: `--constructor` is no flag.
    const flag = Object.hasOwn(FLAGS, token.name) ? FLAGS[token.name as Flag] : undefined;
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
    // `--token --json`: the next flag taken as the value, and the flag lost.
    if (flag.type === "string" && !token.inlineValue && token.value!.startsWith("--")) {
      throw new UsageError(
        `Flag --${token.name} needs a value, not the flag ${quote(token.value!)}: ` +
          `write --${token.name}=${token.value} for a value that starts with "--"`,
      );
    }
    if (flag.type === "boolean" && token.value !== undefined) {
      throw new UsageError(`Flag --${token.name} takes no value`);
    }
  }
  const [name, ...rest] = positionals;
  const base = {
    urls: urlsOf(...urlSource(stringFlag(values.url), nonEmpty(env.get("CACHE_URL")))),
    token: tokenFrom(stringFlag(values.token), nonEmpty(env.get("CACHE_TOKEN"))),
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
    if (values[flag] !== undefined && !only.includes(command)) {
      throw new UsageError(`Flag --${flag} applies only to ${sentence(only)}`);
    }
  }
  const { min, max, usage } = USAGE[command];
  if (rest.length < min) throw new UsageError(`Missing argument for ${command}: cache ${usage}`);
  if (rest.length > max) throw new UsageError(`Too many arguments for ${command}: cache ${usage}`);
  if (command === "mget") rest.forEach(checkKey);
  else if (command !== "scan" && rest.length > 0) checkKey(rest[0]);
  if (command === "flush" && values.yes !== true) {
    throw new UsageError("Missing --yes for flush: it deletes every key of the cluster");
  }
  const ttl = stringFlag(values.ttl);
  const interval = stringFlag(values["interval-ms"]);
  const count = stringFlag(values.count);
  const requestId = stringFlag(values["request-id"]);
  if (values.retry === true && requestId === undefined) {
    throw new UsageError("--retry needs --request-id: the id the increment was sent with before");
  }
  const by = command === "incr" || command === "decr"
    ? (rest[1] === undefined ? 1 : amountOf(rest[1])) * (command === "decr" ? -1 : 1)
    : undefined;
  return {
    ...base,
    command,
    args: rest,
    ttlSeconds: ttl === undefined ? undefined : ttlOf(ttl),
    condition: conditionOf(values),
    by,
    requestId: requestId === undefined ? undefined : requestIdOf(requestId),
    retry: values.retry === true ? true : undefined,
    touchTtl: command === "touch" ? touchTtlOf(rest[1]) : undefined,
    prefix: command === "scan" && rest[0] !== undefined ? prefixOf(rest[0]) : undefined,
    count: count === undefined ? undefined : countOf(count),
    file: stringFlag(values.file),
    intervalMs: interval === undefined ? DEFAULT_INTERVAL_MS : intervalOf(interval),
    once: values.once === true,
  };
}

/** The condition of `set`'s flags: at most one of `--nx`, `--xx` and `--if-version`. */
function conditionOf(
  values: Record<string, string | boolean | undefined>,
): SetCondition | undefined {
  const given = CONDITIONS.filter((flag) => values[flag] !== undefined);
  if (given.length > 1) {
    throw new UsageError(
      `Flags ${sentence(given.map((flag) => `--${flag}`))} do not go together: give one`,
    );
  }
  if (values.nx === true) return { if: "absent" };
  if (values.xx === true) return { if: "present" };
  const version = stringFlag(values["if-version"]);
  return version === undefined ? undefined : { ifVersion: versionOf(version) };
}

/** `items` as a sentence: "a", "a and b", "a, b and c". */
function sentence(items: readonly string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function stringFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/**
 * The token of `--token`, else `CACHE_TOKEN`: a usage error, naming which, for one no header
 * takes.
 */
function tokenFrom(flag: string | undefined, env: string | undefined): string | undefined {
  const [token, from] = flag !== undefined ? [flag, "--token"] : [env, "CACHE_TOKEN"];
  try {
    return tokenOf(token);
  } catch (error) {
    throw new UsageError(`Invalid ${from}: ${(error as Error).message}`);
  }
}

/** The masters' text and where it came from: `--url`, else `CACHE_URL`, else the default. */
function urlSource(flag: string | undefined, env: string | undefined): [string, string] {
  if (flag !== undefined) return [flag, "--url"];
  return env !== undefined ? [env, "CACHE_URL"] : [DEFAULT_URL, "--url"];
}

/**
 * The masters in `text`, separated by commas; each an http(s) URL (see `masterUrls`). `from`
 * names where the text came from in the error.
 */
function urlsOf(text: string, from: string): string[] {
  let urls: string[];
  try {
    urls = masterUrls(text);
  } catch (error) {
    if (!(error instanceof InvalidMasterUrl)) throw error;
    const url = quote(error.url); // its credentials masked
    throw new UsageError(`Invalid ${from} ${url}: expected http(s)://host[:port]`);
  }
  if (urls.length === 0) {
    throw new UsageError(`Invalid ${from} ${quote(withoutCredentials(text))}: no URL in it`);
  }
  return urls;
}
