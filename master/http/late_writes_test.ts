import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import { clockHeaders, onTime } from "./late_writes.ts";

Deno.test("onTime() gives a write's time left, and refuses one past its sender's deadline", () => {
  const now = () => 5_000;
  const headers = (deadline?: string) =>
    new Headers(deadline === undefined ? {} : { "x-deadline": deadline });
  assert.equal(onTime(headers("5300"), now), 300);
  assert.equal(onTime(headers("5000"), now), 0, "on time");
  assert.equal(onTime(headers(), now), undefined, "no deadline given");
  for (const sent of ["soon", "", "1e400", "Infinity", "5000.5"]) {
    assert.throws(
      () => onTime(headers(sent), now),
      (error) => error instanceof HttpError && error.status === 400,
      `${sent}: not a time, refused as a node refuses it`,
    );
  }
  assert.throws(
    () => onTime(headers("4999"), now),
    (error) =>
      error instanceof HttpError && error.status === 504 &&
      /past its sender's deadline: not applied/.test(error.message),
  );
});

Deno.test("clockHeaders() names the clock, one object a millisecond", () => {
  let now = 7;
  const headers = clockHeaders(() => now);
  const first = headers();
  assert.deepEqual(first, { "x-node-time": "7" });
  assert.equal(headers(), first);
  now = 8;
  assert.deepEqual(headers(), { "x-node-time": "8" });
});
