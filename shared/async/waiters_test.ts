// Tests of Waiters: woken, or given up on at their own time.

import assert from "node:assert/strict";
import { Waiters } from "./waiters.ts";

Deno.test("Waiters.wait() resolves true at wake(), and false once its time is up", async () => {
  const waiters = new Waiters();
  const woken = waiters.wait(1000);
  const late = waiters.wait(10);
  assert.equal(await late, false);
  waiters.wake();
  assert.equal(await woken, true);
  // A wait begun after a wake waits for the next one.
  assert.equal(await waiters.wait(10), false);
});
