// Scans: the query of a page, and every key by following the cursors.

import assert from "node:assert/strict";
import { scanKeys, scanPages, scanPath } from "./scan.ts";
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

Deno.test("scanKeys() reads a page that failed on its way again, with its cursor", async () => {
  // A node that crashed failed the pages through the master (502, then 503 until it was marked
  // down), and the scan ended on the first: the CLI had printed 6,900 keys of 18,231.
  const answers: (ScanPage | CacheError)[] = [
    { keys: ["a"], cursor: "7" },
    new CacheError(502, "Node http://127.0.0.1:9 is unreachable"),
    new CacheError(503, "circuit breaker is open"),
    new CacheError(0, "Cannot reach the cluster"),
    { keys: ["b"], cursor: null },
  ];
  const asked: (string | undefined)[] = [];
  const keys: string[] = [];
  const page = (cursor: string | undefined) => {
    asked.push(cursor);
    const answer = answers.shift()!;
    return answer instanceof CacheError ? Promise.reject(answer) : Promise.resolve(answer);
  };
  for await (const key of scanKeys(page, { delaysMs: [0, 0, 0] })) keys.push(key);
  assert.deepEqual(keys, ["a", "b"]);
  assert.deepEqual(asked, [undefined, "7", "7", "7", "7"]);
});

Deno.test("scanPages() throws the last failure once its tries are spent, and a 4xx at once", async () => {
  const failing = (status: number) => {
    let calls = 0;
    const page = () => {
      calls++;
      return Promise.reject(new CacheError(status, `answered ${status}`));
    };
    return { page, calls: () => calls };
  };
  const unreachable = failing(502);
  const pages = scanPages(unreachable.page, { delaysMs: [0, 0] });
  await assert.rejects(pages.next(), (e) => e instanceof CacheError && e.status === 502);
  assert.equal(unreachable.calls(), 3, "the first try and one after each delay");
  const refused = failing(400);
  await assert.rejects(scanPages(refused.page, { delaysMs: [0] }).next(), CacheError);
  assert.equal(refused.calls(), 1);
  const stop = new AbortController();
  const stopped = failing(503);
  const waiting = scanPages(stopped.page, { delaysMs: [60_000], signal: stop.signal }).next();
  await new Promise((resolve) => setTimeout(resolve, 10)); // failed once, and waiting
  stop.abort();
  await assert.rejects(waiting, { name: "AbortError" });
  assert.equal(stopped.calls(), 1, "no try after the scan was cancelled");
});
