// What the master reads out of a node's answers: JSON, a batch's lines, the keys a write missed.

import { type ErrorStatus, HttpError } from "@cache/protocol/errors";
import type { RawAnswer } from "@cache/http1/messages";
import { utf16Units } from "@cache/protocol/key_routes";
import { unreplicatedKeys as unreplicatedIn } from "@cache/protocol/unreplicated";
import type { KeyValue } from "@cache/protocol/wire";

const decoder = new TextDecoder();

/** Whether the node answered 2xx. */
export const ok = (answer: RawAnswer) => answer.status >= 200 && answer.status < 300;

/** A node's answer as JSON; throws HttpError with the node's own status and reason for an error. */
export function parsed(node: string, answer: RawAnswer): unknown {
  const text = decoder.decode(answer.body);
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new HttpError(502, `Node ${node} answered ${answer.status} with a body that is not JSON`);
  }
  if (ok(answer)) return body;
  const reason = (body as { error?: string } | undefined)?.error ?? "no reason given";
  const status = answer.status >= 400 ? answer.status as ErrorStatus : 502;
  throw new HttpError(status, `Node ${node}: ${reason}`);
}

/**
 * Lines of this many bytes or more are passed on as the node's bytes, not decoded to a string and
 * encoded again: a 1 MB value's answer cost the master about 7 ms more that way.
 */
export const LARGE_LINE_BYTES = 16 * 1024;

/**
 * The body each key found would have had alone: text, or a long line's bytes as the node sent them.
 */
export type FoundBodies = Map<string, string | Uint8Array<ArrayBuffer>>;

/** An `/mget` answer as the master makes it: the items found in the order asked, and misses. */
export interface FoundBatch {
  /** Each key found, and its body as its node sent it (`GET /keys/{key}`'s). */
  items: { key: string; body: string | Uint8Array<ArrayBuffer> }[];
  missing: string[];
}

const NEWLINE = 0x0a; // never inside a line: JSON escapes it in strings

/**
 * The body each of `asked` would have had alone, cut from the node's `/mget` lines (one per key
 * asked, in order: the item, or `null`) with nothing parsed; a key not stored has none. A long
 * line stays the node's bytes.
 */
export function foundLines(
  node: string,
  answer: RawAnswer,
  asked: string[],
): FoundBodies {
  const bytes = answer.body;
  const found: FoundBodies = new Map();
  if (bytes.length < LARGE_LINE_BYTES) {
    // Short: decoded at once, cheaper than a decode per line.
    const lines = decoder.decode(bytes).split("\n");
    if (lines.length <= asked.length) throw fewerLines(node);
    asked.forEach((key, i) => {
      if (lines[i] !== "null") found.set(key, lines[i]);
    });
    return found;
  }
  let start = 0;
  for (const key of asked) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end < 0) throw fewerLines(node);
    const line = bytes.subarray(start, end);
    start = end + 1;
    if (line.length >= LARGE_LINE_BYTES) found.set(key, line);
    else {
      const text = decoder.decode(line);
      if (text !== "null") found.set(key, text);
    }
  }
  return found;
}

const fewerLines = (node: string) =>
  new HttpError(502, `Node ${node} answered fewer lines than keys asked`);

/** The body each key would have had alone, from a node's JSON `/mget` answer; none for a miss. */
export function foundItems(node: string, answer: RawAnswer): Map<string, string> {
  const { items } = parsed(node, answer) as { items: KeyValue[] };
  return new Map(items.map((item) => [item.key, JSON.stringify(item)]));
}

/**
 * Whether a node refused a call as come past its sender's deadline (504, `late: true`): it
 * applied nothing.
 */
export function refusedLate(answer: RawAnswer): boolean {
  if (answer.status !== 504) return false;
  try {
    return JSON.parse(decoder.decode(answer.body))?.late === true;
  } catch {
    return false; // not JSON: not the node's refusal
  }
}

/** The `unreplicated` keys of a node's error answer, if it names them. */
export function unreplicatedKeys(answer: RawAnswer): Set<string> | undefined {
  try {
    return unreplicatedIn(JSON.parse(decoder.decode(answer.body)));
  } catch {
    return undefined; // not JSON: every write gets the answer
  }
}

/**
 * The characters of the value in `body`, the JSON of `key`'s item (`{"key":…,"value":"…",…}`), as
 * `answerCounter` counts them: up to the last `","`, the value's closing quote (no quote inside a
 * JSON string goes unescaped, and the fields after the value are a number and a version). A body
 * of another shape counts whole.
 *
 * @example
 * ```ts
 * import { valueChars } from "./node_answers.ts";
 * valueChars("k", '{"key":"k","value":"a\\"b","version":"7.1"}'); // 4
 * ```
 */
export function valueChars(key: string, body: string | Uint8Array): number {
  const start = `{"key":${JSON.stringify(key)},"value":"`.length;
  const end = typeof body === "string" ? body.lastIndexOf('","') : lastQuoteCommaQuote(body);
  if (end < start) return typeof body === "string" ? body.length : utf16Units(body);
  return (typeof body === "string" ? end : utf16Units(body.subarray(0, end))) - start;
}

const QUOTE = 0x22, COMMA = 0x2c;

/** Where the last `","` in `bytes` starts, or -1. */
function lastQuoteCommaQuote(bytes: Uint8Array): number {
  for (let i = bytes.length - 3; i >= 0; i--) {
    if (bytes[i] === QUOTE && bytes[i + 1] === COMMA && bytes[i + 2] === QUOTE) return i;
  }
  return -1;
}

/**
 * The ring epoch of the version in `body`, an item's JSON (its last field, `"version":"E.V"`),
 * or 0 for a body of another shape: read from its end, nothing parsed.
 *
 * @example
 * ```ts
 * import { versionEpochOf } from "./node_answers.ts";
 * versionEpochOf('{"key":"k","value":"v","version":"7.12"}'); // 7
 * ```
 */
export function versionEpochOf(body: string | Uint8Array): number {
  const tail = typeof body === "string"
    ? body.slice(-96)
    : decoder.decode(body.subarray(Math.max(0, body.length - 96)));
  const version = /"version":"(\d+)\.\d+"\}$/.exec(tail);
  return version ? Number(version[1]) : 0;
}
