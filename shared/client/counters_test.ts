// Exactly-once increments: which failures are sent again, with the same request id, and how often.

import assert from "node:assert/strict";
import { CacheError, mayHaveApplied, Refused, StaleRing } from "./call.ts";
import { INCR_ATTEMPTS, incrementOnce, unknownOutcome } from "./counters.ts";

const counter = { key: "hits", value: 5, version: "3.17" };

/** A send that fails with `errors`, one per call, then answers `counter`; `calls()` counts. */
function sending(...errors: CacheError[]) {
  let calls = 0;
  const send = () => {
    calls++;
    const error = errors.shift();
    return error ? Promise.reject(error) : Promise.resolve(counter);
  };
  return { send, calls: () => calls };
}

Deno.test("unknownOutcome() is true for no answer, 421, 502, 503 and 504 only", () => {
  const unknown = [0, 421, 502, 503, 504].map((status) => new CacheError(status, "x"));
  for (const error of [...unknown, new Refused("nothing listened")]) {
    assert.equal(unknownOutcome(error), true, String(error.status));
  }
  for (const status of [400, 404, 409, 412, 413, 500, 507]) {
    assert.equal(unknownOutcome(new CacheError(status, "x")), false, String(status));
  }
  assert.equal(unknownOutcome(new TypeError("not a CacheError")), false);
});

Deno.test("incrementOnce() sends again while the outcome is unknown, and answers the counter", async () => {
  const { send, calls } = sending(new CacheError(0, "no answer"), new CacheError(503, "no node"));
  const answer = await incrementOnce(send, { requestId: "r1", delaysMs: [0] });
  assert.deepEqual(answer, counter);
  assert.equal(calls(), 3);
});

Deno.test("incrementOnce() does not send again an increment refused for its value", async () => {
  const { send, calls } = sending(
    new CacheError(409, 'Key "hits" does not hold a decimal integer'),
  );
  await assert.rejects(
    incrementOnce(send, { requestId: "r1", delaysMs: [0] }),
    (error: CacheError) => error.status === 409 && !("requestId" in error.details),
  );
  assert.equal(calls(), 1);
});

Deno.test("incrementOnce() gives up after its rounds, naming the request id to send it again with", async () => {
  const failures = Array.from({ length: 5 }, () => new CacheError(504, "no answer in time"));
  const { send, calls } = sending(...failures);
  const error = await incrementOnce(send, { requestId: "r-7", delaysMs: [0] }).catch((e) => e);
  assert.equal(calls(), INCR_ATTEMPTS);
  assert.ok(error instanceof CacheError);
  assert.equal(error.status, 504);
  assert.equal(error.details.requestId, "r-7");
  assert.equal(error.details.retry, true);
  assert.equal(
    error.message,
    'Increment "r-7" may or may not have been applied: send it again with this requestId and ' +
      "retry: true within 2 minutes, which applies it at most once (no answer in time)",
  );
});

Deno.test("incrementOnce() says an increment every round of which was refused unsent was not applied", async () => {
  // Nodes past their lease answer 503 before applying anything; a master refusing the connection
  // was never sent it. "May have been applied" sent callers to retry: true, and a 409 on hot keys.
  const failures = Array.from({ length: 5 }, () => new CacheError(503, "no lease"));
  const { send } = sending(...failures);
  const error = await incrementOnce(send, { requestId: "r-8", delaysMs: [0] }).catch((e) => e);
  assert.equal(error.status, 503);
  assert.equal(
    error.message,
    'Increment "r-8" was not applied: every try was refused before a node could apply it (no lease)',
  );
  assert.deepEqual(error.details, { requestId: "r-8" });
  // A call outside the rounds that may have applied it (the caller's own first try) counts too.
  const again = sending(...failures);
  const maybe = await incrementOnce(again.send, {
    requestId: "r-9",
    delaysMs: [0],
    mayHaveApplied: () => true,
  }).catch((e) => e);
  assert.match(maybe.message, /may or may not have been applied/);
  assert.equal(maybe.details.retry, true);
});

Deno.test("incrementOnce() waits between rounds, and stops waiting once aborted", async () => {
  const controller = new AbortController();
  const { send, calls } = sending(new CacheError(0, "reset"), new CacheError(0, "reset"));
  const started = Date.now();
  const incrementing = incrementOnce(send, {
    requestId: "r1",
    delaysMs: [10_000],
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(new Error("Stopped")), 20);
  await assert.rejects(incrementing, /Stopped/);
  assert.equal(calls(), 1);
  assert.ok(Date.now() - started < 5000, "did not wait the whole delay");
});

Deno.test("incrementOnce() rejects a body that is not a counter with a CacheError", async () => {
  let rounds = 0;
  const send = () => {
    rounds++;
    return Promise.resolve({ key: "hits", value: "5" });
  };
  await assert.rejects(
    incrementOnce(send, { requestId: "r1", attempts: 2, delaysMs: [0] }),
    (error: Error) =>
      error instanceof CacheError && error.status === 502 &&
      /unexpected document/.test(error.message),
  );
  assert.equal(rounds, 2, "sent again with its request id: the first may have applied");
});

Deno.test("incrementOnce() says it sends again once a round may have applied it", async () => {
  const rounds: boolean[] = [];
  const errors = [
    new CacheError(421, "ring changed"),
    new Refused("nothing listened"),
    new CacheError(504, "no answer in time"),
    new CacheError(503, "no node"),
  ];
  const send = (again: boolean) => {
    rounds.push(again);
    const error = errors.shift();
    return error ? Promise.reject(error) : Promise.resolve(counter);
  };
  await incrementOnce(send, { requestId: "r1", attempts: 5, delaysMs: [0] });
  // Refused and redirected, it was not applied; after the 504 it may have been, for good.
  assert.deepEqual(rounds, [false, false, false, true, true]);
});

Deno.test("mayHaveApplied() counts a node's failure by its status, not the ring it came with", () => {
  assert.equal(
    mayHaveApplied(new StaleRing(502)),
    true,
    "stored on the primary, then a newer ring",
  );
  assert.equal(mayHaveApplied(new StaleRing(504)), true);
  assert.equal(mayHaveApplied(new StaleRing()), false, "a plain redirect");
  assert.equal(mayHaveApplied(new CacheError(502, "unreachable", { sent: false })), false);
  assert.equal(mayHaveApplied(new CacheError(502, "backups did not take it")), true);
  assert.equal(mayHaveApplied(new Refused("nothing listened")), false);
  assert.equal(mayHaveApplied(new CacheError(0, "no answer")), true);
  assert.equal(mayHaveApplied(new CacheError(503, "no node")), false);
});
