// The V8 flags every cache node runs with, wherever it runs: they keep its garbage small.

/**
 * Flags for `--v8-flags=`: a young generation of at most 4 MiB a half (V8's default grows to 16 or
 * more), an old generation that starts at 16 MiB and grows by 20 % a collection (V8 picks 10 % to
 * 300 %), and optimizing compiles on the main thread: a compiler thread's `malloc` arena kept 5-7
 * MB of freed compile memory, while a node's hot code is compiled once, at warm-up. A node keeps
 * its data outside the JavaScript heap, so the heap holds requests in flight and their garbage:
 * under 8 writers of 100 KB values into a 64 MB store, the process took about 180 MB above idle
 * with V8's defaults and about 100 MB with these (docs/performance.md, "Memory"). deno.json's
 * `node` and `compile` tasks and Dockerfile_node carry the same string (a test checks);
 * tools/dev.ts and the test harness import it.
 */
export const NODE_V8_FLAGS =
  "--max-semi-space-size=4,--initial-old-space-size=16,--heap-growing-percent=20," +
  "--no-concurrent-recompilation";
