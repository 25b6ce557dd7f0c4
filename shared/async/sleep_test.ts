import assert from "node:assert/strict";
import { sleep, within } from "./sleep.ts";

Deno.test("sleep() waits its time, or ends at once when its signal aborts", async () => {
  let started = performance.now();
  await sleep(30);
  assert.ok(performance.now() - started >= 25);
  const stop = new AbortController();
  started = performance.now();
  const waiting = sleep(10_000, stop.signal);
  stop.abort();
  await waiting;
  assert.ok(performance.now() - started < 1000);
  await sleep(10_000, stop.signal); // already aborted: no wait at all
});

Deno.test("within() gives the promise's value in time, else what stands for late", async () => {
  assert.equal(await within(Promise.resolve(true), 10_000, false), true); // and no timer left
  const started = performance.now();
  assert.equal(await within(new Promise<boolean>(() => {}), 30, false), false);
  assert.ok(performance.now() - started >= 25);
});
