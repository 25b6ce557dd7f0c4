// Scanning the key space a page at a time: the query of one page, and every key by following the
// cursors the master answers.

import { NOT_WELL_FORMED, type ScanPage } from "@cache/protocol/wire";
import { CacheError } from "./call.ts";

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
 * Every key of a scan, page after page: `page(cursor)` reads one page (no cursor for the first),
 * and the keys come as they arrive, until a page answers a null cursor. Stopping early (a `break`)
 * asks for no more pages.
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
): AsyncGenerator<string, void, undefined> {
  let cursor: string | undefined;
  do {
    const answer = await page(cursor);
    yield* answer.keys;
    cursor = answer.cursor ?? undefined;
  } while (cursor !== undefined);
}
