import assert from "node:assert/strict";
import { byDeadline, SHARED_MIN_LEFT_MS } from "./deadlines.ts";

Deno.test("byDeadline() sorts a batch's items by when their senders stop waiting", () => {
  const now = 1000;
  const dues = [
    undefined, // waits as long as a call
    now - 1, // gone
    now, // gone: nothing left
    now + SHARED_MIN_LEFT_MS - 1, // too soon to share a call
    now + SHARED_MIN_LEFT_MS, // soon, with others that are soon
    now + 999,
    now + 1000, // as long as a call waits
    now + 60_000,
  ];
  assert.deepEqual(byDeadline(dues, (due) => due, 1000, now), {
    late: [1, 2],
    alone: [3],
    short: [4, 5],
    patient: [0, 6, 7],
  });
  // With a call that waits no time of its own, every item not gone is patient.
  assert.deepEqual(byDeadline(dues, (due) => due, 0, now).patient, [0, 3, 4, 5, 6, 7]);
});
