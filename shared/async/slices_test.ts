import assert from "node:assert/strict";
import { Slices } from "./slices.ts";

Deno.test("Slices let a timer run within a loop that would hold the event loop for long", async () => {
  // Ends when the timer has run 10 times, however slow the machine: a loop that never let it in
  // would spin until the 10 s bound.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const slices = new Slices(5);
  const end = performance.now() + 10_000;
  while (ticks < 10 && performance.now() < end) {
    if (slices.spent()) await slices.next();
  }
  clearInterval(timer);
  assert.ok(ticks >= 10, `the timer ran ${ticks} times in 10 s`);
});

Deno.test("Slices.over() looks at the clock at once, where spent() waits for its 256th step", () => {
  const slices = new Slices(2);
  assert.equal(slices.over(), false);
  const end = performance.now() + 3;
  while (performance.now() < end);
  assert.equal(slices.spent(), false, "a first step does not look");
  assert.equal(slices.over(), true);
});
