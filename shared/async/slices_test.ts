import assert from "node:assert/strict";
import { Slices } from "./slices.ts";

Deno.test("Slices let a timer run within a loop that would hold the event loop for long", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const slices = new Slices(5);
  const end = performance.now() + 100;
  let yields = 0;
  while (performance.now() < end) {
    if (!slices.spent()) continue;
    await slices.next();
    yields++;
  }
  clearInterval(timer);
  assert.ok(yields >= 10, `${yields} slices in 100 ms of 5 ms each`);
  assert.ok(ticks >= 10, `the timer ran ${ticks} times`);
});

Deno.test("Slices.over() looks at the clock at once, where spent() waits for its 256th step", () => {
  const slices = new Slices(2);
  assert.equal(slices.over(), false);
  const end = performance.now() + 3;
  while (performance.now() < end);
  assert.equal(slices.spent(), false, "a first step does not look");
  assert.equal(slices.over(), true);
});
