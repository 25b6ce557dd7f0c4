// Scans: the query of a page, and every key by following the cursors.

import assert from "node:assert/strict";
import { scanKeys, scanPath } from "./scan.ts";
import { CacheError } from "./call.ts";
import type { ScanPage } from "@cache/protocol/wire";

Deno.test("scanPath() puts only the options given in the query, encoded", () => {
  assert.equal(scanPath({}), "/keys");
  assert.equal(scanPath({ prefix: "" }), "/keys");
  assert.equal(scanPath({ prefix: "user:&/ é" }), "/keys?prefix=user%3A%26%2F+%C3%A9");
  assert.equal(scanPath({ count: 500 }, "12"), "/keys?count=500&cursor=12");
  assert.equal(scanPath({ prefix: "a" }, "0"), "/keys?prefix=a&cursor=0");
});

Deno.test("scanKeys() follows the cursors until a null one, passing on empty pages", async () => {
  const pages: ScanPage[] = [
    { keys: ["a", "b"], cursor: "7" },
    { keys: [], cursor: "9" },
    { keys: ["c"], cursor: null },
  ];
  const asked: (string | undefined)[] = [];
  const keys: string[] = [];
  for await (
    const key of scanKeys((cursor) => {
      asked.push(cursor);
      return Promise.resolve(pages.shift()!);
    })
  ) keys.push(key);
  assert.deepEqual(keys, ["a", "b", "c"]);
  assert.deepEqual(asked, [undefined, "7", "9"]);
});

Deno.test("scanKeys() reads no more pages once the caller stops", async () => {
  let pages = 0;
  for await (
    const key of scanKeys(() => {
      pages++;
      return Promise.resolve({ keys: ["x", "y"], cursor: String(pages) });
    })
  ) {
    if (key === "x") break;
  }
  assert.equal(pages, 1);
});

Deno.test("scanPath() refuses a prefix with a lone surrogate with a 400 CacheError", () => {
  assert.throws(
    () => scanPath({ prefix: "user:\ud800" }),
    (e: unknown) => e instanceof CacheError && e.status === 400 && /lone surrogate/.test(e.message),
  );
});
