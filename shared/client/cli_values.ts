// The values the command line reads from its arguments and flags, each checked as the cluster
// would check it, so that a bad one is a usage error before any call.

import { Key, MAX_KEY_BYTES, MAX_SCAN_COUNT, Ttl, utf8Bytes, Version } from "@cache/protocol/wire";

/** A command line that does not make sense, with its one-line reason: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The shortest `--interval-ms` taken: shorter would only load the cluster. */
export const MIN_INTERVAL_MS = 100;

/** The longest `--interval-ms` taken, an hour: a timer cannot wait past 2^31 - 1 ms anyway. */
export const MAX_INTERVAL_MS = 3_600_000;

/**
 * Throws {@link UsageError} when `key` is no key a node takes (empty, ".", "..", over 1024 bytes).
 *
 * @example
 * ```ts
 * import { checkKey } from "./cli_values.ts";
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

/**
 * `text` quoted on one line, cut short when long: for messages.
 *
 * @example
 * ```ts
 * import { quote } from "./cli_values.ts";
 * quote("a\nb"); // '"a\\nb"'
 * ```
 */
export function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/**
 * `text` as a field of a printed line: as it is, or as a JSON string when it holds a control
 * character (a newline or a tab would split the line or its fields; C1 controls and DEL move a
 * terminal) or a lone surrogate (printed as U+FFFD, the key could not be told), or begins with `"`
 * (it would read as quoted), so every line reads back one way (`JSON.parse` a quoted field).
 *
 * @example
 * ```ts
 * import { lineField } from "./cli_values.ts";
 * lineField("user:1"); // "user:1"
 * lineField("a\nb"); // '"a\\nb"'
 * ```
 */
export function lineField(text: string): string {
  if (text.startsWith('"') || !text.isWellFormed()) return JSON.stringify(text);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // JSON escapes those under 0x20; DEL and C1 stay as they are, inside the quotes.
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return JSON.stringify(text);
  }
  return text;
}

/**
 * The seconds of `--ttl`: a number > 0, at most ten years, in decimal digits; `what` names the
 * value in an error, and `or` says what else it may be.
 *
 * @example
 * ```ts
 * import { ttlOf } from "./cli_values.ts";
 * ttlOf("1.5"); // 1.5
 * ```
 */
export function ttlOf(text: string, what = "--ttl", or = ""): number {
  // Decimal digits only: Number() also takes " 5", "0x10" and "1e3".
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(text)) {
    const how = `write seconds in decimal digits, as 30 or 1.5${or}`;
    throw new UsageError(`Invalid ${what} ${quote(text)}: ${how}`);
  }
  const checked = Ttl.safeParse(Number(text));
  if (!checked.success) {
    throw new UsageError(`Invalid ${what} ${quote(text)}: ${checked.error.issues[0].message}`);
  }
  return checked.data;
}

/**
 * The TTL `touch` sets: seconds, as `--ttl`, or `none` (null) for a key that never expires.
 *
 * @example
 * ```ts
 * import { touchTtlOf } from "./cli_values.ts";
 * touchTtlOf("300"); // 300
 * touchTtlOf("none"); // null
 * ```
 */
export function touchTtlOf(text: string): number | null {
  return text === "none" ? null : ttlOf(text, "TTL", ", or none to keep the key forever");
}

/**
 * The amount `incr` or `decr` adds or takes: a whole number within the safe integers.
 *
 * @example
 * ```ts
 * import { amountOf } from "./cli_values.ts";
 * amountOf("-5"); // -5
 * ```
 */
export function amountOf(text: string): number {
  const amount = Number(text);
  if (!/^[-+]?\d+$/.test(text.trim()) || !Number.isSafeInteger(amount)) {
    throw new UsageError(
      `Invalid amount ${quote(text)}: expected a whole number, at most 2^53 - 1 either way`,
    );
  }
  return amount;
}

/**
 * The keys per page of `scan --count`: 1 to 1000.
 *
 * @example
 * ```ts
 * import { countOf } from "./cli_values.ts";
 * countOf("500"); // 500
 * ```
 */
export function countOf(text: string): number {
  const count = Number(text);
  if (text.trim() === "" || !Number.isInteger(count) || count < 1 || count > MAX_SCAN_COUNT) {
    throw new UsageError(
      `Invalid --count ${quote(text)}: expected a whole number from 1 to ${MAX_SCAN_COUNT}`,
    );
  }
  return count;
}

/**
 * The prefix of `scan`: any text up to 1024 UTF-8 bytes, none for every key.
 *
 * @example
 * ```ts
 * import { prefixOf } from "./cli_values.ts";
 * prefixOf("user:"); // "user:"
 * ```
 */
export function prefixOf(text: string): string {
  // In UTF-8 bytes, as the cluster counts: 600 "é" passed as 600 characters, and were a 400.
  if (utf8Bytes(text) > MAX_KEY_BYTES) {
    throw new UsageError(`Invalid prefix ${quote(text)}: longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
  return text;
}

/**
 * The version of `set --if-version`: as `get --json` prints it.
 *
 * @example
 * ```ts
 * import { versionOf } from "./cli_values.ts";
 * versionOf("7.1733160000000123"); // "7.1733160000000123"
 * ```
 */
export function versionOf(text: string): string {
  if (!Version.safeParse(text).success) {
    throw new UsageError(
      `Invalid --if-version ${quote(text)}: expected a version as get --json prints it`,
    );
  }
  return text;
}

/**
 * The id of `incr --request-id`: 1 to 100 characters.
 *
 * @example
 * ```ts
 * import { requestIdOf } from "./cli_values.ts";
 * requestIdOf("deploy-42"); // "deploy-42"
 * ```
 */
export function requestIdOf(text: string): string {
  if (text.length < 1 || text.length > 100) {
    throw new UsageError(`Invalid --request-id ${quote(text)}: expected 1 to 100 characters`);
  }
  return text;
}

/**
 * The milliseconds of `top --interval-ms`: a whole number from {@link MIN_INTERVAL_MS} to
 * {@link MAX_INTERVAL_MS}.
 *
 * @example
 * ```ts
 * import { intervalOf } from "./cli_values.ts";
 * intervalOf("250"); // 250
 * ```
 */
export function intervalOf(text: string): number {
  const ms = Number(text);
  if (
    text.trim() === "" || !Number.isInteger(ms) || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS
  ) {
    throw new UsageError(
      `Invalid --interval-ms ${quote(text)}: expected a whole number of milliseconds, at least ` +
        `${MIN_INTERVAL_MS} and at most ${MAX_INTERVAL_MS}`,
    );
  }
  return ms;
}

// Characters that move or recolour a terminal's text, or reorder it: control characters (an escape
// sequence starts with one) and bidirectional overrides.
// deno-lint-ignore no-control-regex -- matching them is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` as one line of at most 300 characters for stderr: runs of white space as one space, and
 * what a terminal would act on written as an escape (`\x1b`), whoever wrote the text: a master's
 * message may quote a client's key, and a hostile master may say anything.
 */
export function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim().replace(
    UNPRINTABLE,
    (char) => {
      const code = char.charCodeAt(0);
      return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, "0")}`;
    },
  );
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
