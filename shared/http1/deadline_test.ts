import assert from "node:assert/strict";
import { deadline, untilAborted } from "./deadline.ts";

Deno.test("deadline() aborts its signal with a TimeoutError after its time", async () => {
  const limit = deadline(20, "no answer within 20 ms");
  const reason = await new Promise((resolve) =>
    limit.signal.addEventListener("abort", () => resolve(limit.signal.reason))
  );
  assert.ok(reason instanceof DOMException);
  assert.equal(reason.name, "TimeoutError");
  assert.equal(reason.message, "no answer within 20 ms");
});

Deno.test("deadline() never aborts once cleared", async () => {
  const limit = deadline(20, "late");
  limit.clear();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(limit.signal.aborted, false);
});

Deno.test("untilAborted() rejects with the signal's reason while the call never settles", async () => {
  const limit = deadline(20, "no answer within 20 ms");
  await assert.rejects(untilAborted(new Promise(() => {}), limit.signal), { name: "TimeoutError" });
  const aborted = AbortSignal.abort(new Error("cancelled"));
  await assert.rejects(untilAborted(new Promise(() => {}), aborted), /cancelled/);
});

Deno.test("untilAborted() settles as the call does before its signal aborts", async () => {
  const limit = deadline(1000, "late");
  assert.equal(await untilAborted(Promise.resolve(7), limit.signal), 7);
  await assert.rejects(untilAborted(Promise.reject(new Error("refused")), limit.signal), /refused/);
  limit.clear();
});
