import assert from "node:assert/strict";
import { Epochs } from "./epochs.ts";

Deno.test("Epochs gives each epoch one id while records use it, and frees it after", () => {
  const epochs = new Epochs();
  const clock = 1_700_000_000_000; // a new leader's ring epoch: past 32 bits
  const a = epochs.hold(clock);
  assert.equal(epochs.hold(clock), a);
  const b = epochs.hold(7);
  assert.notEqual(a, b);
  assert.deepEqual([epochs.epochOf(a), epochs.epochOf(b), epochs.size], [clock, 7, 2]);
  epochs.release(a);
  assert.equal(epochs.epochOf(a), clock, "one record still uses it");
  epochs.release(a);
  assert.equal(epochs.size, 1);
  const c = epochs.hold(8);
  assert.equal(c, a, "a freed id is used again");
  assert.equal(epochs.epochOf(c), 8);
  assert.equal(epochs.hold(clock) === c, false, "the last epoch held no longer names a freed id");
});

Deno.test("Epochs keeps epoch 0 as id 0, uncounted", () => {
  const epochs = new Epochs();
  assert.equal(epochs.hold(0), 0);
  epochs.release(0);
  assert.equal(epochs.epochOf(0), 0);
  assert.equal(epochs.size, 0);
  epochs.hold(5);
  epochs.clear();
  assert.equal(epochs.size, 0);
});
