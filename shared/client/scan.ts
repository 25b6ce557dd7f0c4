// Scanning the key space a page at a time: the query of one page, and every key by following the
// cursors the master answers.

import { NOT_WELL_FORMED, type ScanPage } from "@cache/protocol/wire";
import { sleep } from "@cache/async/sleep";
import { CacheError, retries } from "./call.ts";

/** What a scan lists, and how many keys it asks for per page. */
export interface ScanOptions {
  /** Only keys that start with it; all keys without it. */
  prefix?: string;
  /** Keys per page, 1 to 1000 (`MAX_SCAN_COUNT`); the server's default, 100, without it. */
  count?: number;
  /** Cancels the scan. */
  signal?: AbortSignal;
}

/**
 * The path of one page of a scan: `GET /keys` with its query; no `cursor` for the first page. A
 * prefix with a lone surrogate is refused with a 400 {@link CacheError}: a URL would carry it as
 * U+FFFD, and the scan would list other keys.
 *
 * @example
 * ```ts
 * import { scanPath } from "./scan.ts";
 * scanPath({ prefix: "user:", count: 500 }, "12"); // "/keys?prefix=user%3A&count=500&cursor=12"
 * ```
 */
export function scanPath(options: ScanOptions, cursor?: string): string {
  if (options.prefix !== undefined && !options.prefix.isWellFormed()) {
    throw new CacheError(400, `Prefix ${NOT_WELL_FORMED}`);
  }
  const query = new URLSearchParams();
  if (options.prefix !== undefined && options.prefix !== "") query.set("prefix", options.prefix);
  if (options.count !== undefined) query.set("count", String(options.count));
  if (cursor !== undefined) query.set("cursor", cursor);
  const text = query.toString();
  return text === "" ? "/keys" : `/keys?${text}`;
}

/**
 * Milliseconds before each new try of a scan's page that failed on its way: a node that crashed
 * fails pages (502, then 503) until the master marks it down, after its failure timeout (3 s by
 * default); the pages then come from the key's other owners. About 7 s in all.
 */
export const SCAN_RETRY_DELAYS_MS = [100, 250, 500, 1000, 1000, 1000, 1000, 1000, 1000];

/** How a scan reads a page again, and when it stops. */
export interface ScanRetry {
  /** Waits before each new try of a failed page; the last failure is thrown past the last. */
  delaysMs?: number[];
  /** Cancels the scan, and the waits too. */
  signal?: AbortSignal;
}

/**
 * The pages of a scan, one after another: `page(cursor)` reads one (no cursor for the first), until
 * one answers a null cursor. A page is a read: one that fails on its way (no answer, 421, 5xx) is
 * read again with its cursor, after each of `delaysMs`. Stopping early asks for no more pages.
 *
 * @example
 * ```ts
 * import { scanPages } from "./scan.ts";
 * const pages = [{ keys: ["a", "b"], cursor: "2" }, { keys: ["c"], cursor: null }];
 * for await (const { keys } of scanPages(async () => pages.shift()!)) console.log(keys);
 * ```
 */
export async function* scanPages(
  page: (cursor: string | undefined) => Promise<ScanPage>,
  options: ScanRetry = {},
): AsyncGenerator<ScanPage, void, undefined> {
  const { delaysMs = SCAN_RETRY_DELAYS_MS, signal } = options;
  let cursor: string | undefined;
  do {
    let answer: ScanPage | undefined;
    for (let tries = 0; answer === undefined; tries++) {
      try {
        answer = await page(cursor);
      } catch (error) {
        if (!retries(error) || tries >= delaysMs.length) throw error;
        await sleep(delaysMs[tries], signal); // at once when aborted
        signal?.throwIfAborted();
      }
    }
    yield answer;
    cursor = answer.cursor ?? undefined;
  } while (cursor !== undefined);
}

/**
 * Every key of a scan, as {@link scanPages} reads its pages: the keys come as they arrive.
 *
 * @example
 * ```ts
 * import { scanKeys } from "./scan.ts";
 * const pages = [{ keys: ["a", "b"], cursor: "2" }, { keys: ["c"], cursor: null }];
 * for await (const key of scanKeys(async () => pages.shift()!)) console.log(key); // a, b, c
 * ```
 */
export async function* scanKeys(
  page: (cursor: string | undefined) => Promise<ScanPage>,
  options: ScanRetry = {},
): AsyncGenerator<string, void, undefined> {
  for await (const { keys } of scanPages(page, options)) yield* keys;
}
