// The options the client takes: how it reaches the cluster, those of each kind of call, and how a
// write carries them.

import type { Http1Client } from "@cache/http1/client";
import { describeIssues } from "@cache/protocol/errors";
import { Ttl } from "@cache/protocol/wire";
import { CacheError } from "./call.ts";
import type { SetCondition } from "./conditions.ts";
import type { ScanOptions } from "./scan.ts";

/** How a client reaches the cluster. */
export interface ClientOptions {
  /** Bearer token sent with every request, for clusters that require one. */
  token?: string;
  /**
   * `direct` (default): each request goes to the node that owns its key, using the ring the master
   * publishes. `proxy`: every request goes through the master.
   */
  mode?: "direct" | "proxy";
  /**
   * Milliseconds before one HTTP call is abandoned; an operation that retries, falls back to the
   * master or waits behind a busy node's call may take longer (bound it with a `signal`). Default
   * 5000.
   */
  timeoutMs?: number;
  /** Stand-in for `fetch`, for tests; by default a pooled keep-alive client of this process. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /**
   * Makes the pooled keep-alive client that calls go through, when no `fetch` is given. By
   * default the runtime's faster one: over `Deno.connect` under Deno, `node:http` under Node.
   */
  transport?: () => Http1Client;
}

/** The longest `timeoutMs` a timer can keep: 2^31 - 1 ms, about 24.8 days. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The masters' URLs in `masters` (an array, or one string with commas), trailing slashes dropped;
 * throws {@link InvalidMasterUrl} for the first that is not `http(s)://host[:port]`: a path would
 * be dropped, not put before every route's, so it is refused rather than ignored.
 *
 * @example
 * ```ts
 * import { masterUrls } from "./options.ts";
 * masterUrls("http://m1:8080/, http://m2:8080"); // ["http://m1:8080", "http://m2:8080"]
 * ```
 */
export function masterUrls(masters: string | string[]): string[] {
  const list = typeof masters === "string" ? masters.split(",") : masters;
  const urls = list.map((url) => url.trim().replace(/\/+$/, "")).filter(Boolean);
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      // refused below
    }
    if (
      !parsed || !/^https?:$/.test(parsed.protocol) || parsed.pathname !== "/" || parsed.search ||
      parsed.hash || parsed.username || parsed.password
    ) {
      throw new InvalidMasterUrl(url);
    }
  }
  return urls;
}

/**
 * A master URL that is not `http(s)://host[:port]`: see {@link masterUrls}. `url` is as given,
 * credentials masked (see {@link withoutCredentials}).
 */
export class InvalidMasterUrl extends TypeError {
  readonly url: string;

  constructor(url: string) {
    const shown = withoutCredentials(url);
    super(`Invalid master URL ${JSON.stringify(shown)}: expected http(s)://host[:port]`);
    this.url = shown;
  }
}

/**
 * `text` with the user and password of each URL in it as `***`, for an error that echoes it:
 * not into terminals and CI logs.
 *
 * @example
 * ```ts
 * import { withoutCredentials } from "./options.ts";
 * withoutCredentials("http://user:secret@m:8080/x"); // "http://***@m:8080/x"
 * ```
 */
export function withoutCredentials(text: string): string {
  return text.replace(/\/\/[^/?#]*@/g, "//***@");
}

/** `mode`, or its default; a TypeError for one that is neither `direct` nor `proxy`. */
export function modeOf(mode: string | undefined): "direct" | "proxy" {
  if (mode === undefined) return "direct";
  if (mode !== "direct" && mode !== "proxy") {
    throw new TypeError(`mode must be "direct" or "proxy": ${JSON.stringify(mode)}`);
  }
  return mode;
}

/**
 * `token`, checked: a TypeError for one no `Authorization` header can carry.
 *
 * @example
 * ```ts
 * import { tokenOf } from "./options.ts";
 * tokenOf("client-token-1"); // "client-token-1"
 * tokenOf("a\nb"); // throws TypeError
 * ```
 */
export function tokenOf(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  // deno-lint-ignore no-control-regex
  if (typeof token !== "string" || /[\x00-\x1f\x7f]/.test(token)) {
    throw new TypeError("token must be a string with no control characters (a newline, say)");
  }
  return token;
}

/** `timeoutMs`, or its default; a TypeError for one no timer keeps (see {@link MAX_TIMEOUT_MS}). */
export function timeoutOf(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return 5000;
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new TypeError(`timeoutMs must be milliseconds from 1 to ${MAX_TIMEOUT_MS}: ${timeoutMs}`);
  }
  return timeoutMs;
}

/** Options of one call. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** A write's options. */
export interface WriteOptions extends CallOptions {
  /** Seconds the key lives; without it the node's default applies. */
  ttlSeconds?: number;
}

/**
 * A set's options: its TTL, and a condition ({@link SetCondition}: `if`, `ifVersion`) that makes
 * it a conditional write, sent alone and refused with 412 when it does not hold.
 */
export interface SetOptions extends WriteOptions, SetCondition {}

/** An increment's options. */
export interface IncrOptions extends CallOptions {
  /** Seconds the key lives from now; without it the key keeps the TTL it had. */
  ttlSeconds?: number;
  /**
   * Identifies the increment, so that a retry of it is applied at most once: the key's owners
   * remember it for two minutes. Default a new random UUID.
   */
  requestId?: string;
  /**
   * This increment was sent before, and its outcome is unknown (a `CacheError` named its
   * `requestId`): its owners refuse it with 409 rather than apply it twice when they can no longer
   * tell whether it was applied. Default false: set from the first call that may have applied it.
   */
  retry?: boolean;
}

/** A scan page's options: which keys, how many, and where to go on from. */
export interface ScanPageOptions extends ScanOptions {
  /** The `cursor` the last page answered; none for the first page. */
  cursor?: string;
}

/**
 * A write's own options, without any condition a caller's object may hold.
 *
 * @example
 * ```ts
 * import { type SetOptions, writeOptions } from "./options.ts";
 * const options: SetOptions = { ttlSeconds: 60, if: "absent" };
 * writeOptions(options); // { signal: undefined, ttlSeconds: 60 }
 * ```
 */
export function writeOptions(options: WriteOptions): WriteOptions {
  return { signal: options.signal, ttlSeconds: options.ttlSeconds };
}

/**
 * The `ttl` field of a request body for `ttlSeconds`: none without it. One no node takes (not
 * positive, past ten years, not a number) throws the nodes' CacheError 400, before any call.
 *
 * @example
 * ```ts
 * import { ttlField } from "./options.ts";
 * ttlField(60); // { ttl: 60 }
 * ttlField(undefined); // {}
 * ttlField(-1); // throws CacheError 400: ttl: ttl must be > 0 seconds
 * ```
 */
export function ttlField(seconds: number | undefined): { ttl?: number } {
  if (seconds === undefined) return {};
  const checked = Ttl.safeParse(seconds);
  if (!checked.success) throw new CacheError(400, describeIssues(checked.error, ["ttl"]));
  return { ttl: seconds };
}
