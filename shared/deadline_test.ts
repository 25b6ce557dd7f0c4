import assert from "node:assert/strict";
import { deadline } from "./deadline.ts";

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
