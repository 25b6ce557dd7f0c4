import assert from "node:assert/strict";
import { BodyBuffers, FIRST_BODY_BYTES } from "./body_buffers.ts";

Deno.test("BodyBuffers hands out capacities of 64 KiB doubled, and reuses what comes back", () => {
  const buffers = new BodyBuffers(1024 * 1024);
  const small = buffers.take(10);
  assert.equal(small.length, FIRST_BODY_BYTES);
  const large = buffers.take(100_000);
  assert.equal(large.length, 2 * FIRST_BODY_BYTES);
  buffers.give(large.subarray(0, 100_000)); // a view gives back its whole buffer
  assert.equal(buffers.freeBytes, 2 * FIRST_BODY_BYTES);
  assert.equal(buffers.take(70_000).buffer, large.buffer);
  assert.equal(buffers.freeBytes, 0);
});

Deno.test("BodyBuffers keeps at most maxFreeBytes for reuse, and releases the others at once", () => {
  const buffers = new BodyBuffers(FIRST_BODY_BYTES);
  const first = buffers.take(1);
  const second = buffers.take(1);
  buffers.give(first);
  buffers.give(second.subarray(0, 10)); // over the limit: its memory is given back now
  assert.equal(buffers.freeBytes, FIRST_BODY_BYTES);
  assert.equal(second.buffer.detached, true);
  assert.equal(first.buffer.detached, false);
  assert.equal(buffers.take(1).buffer, first.buffer);
  assert.notEqual(buffers.take(1).buffer, second.buffer);
});
