// Conditional writes: the fields a set carries, when one is sent again, and what its 412 tells.

import assert from "node:assert/strict";
import { CacheError, Refused } from "./call.ts";
import { conditionFields, notApplied, outcomeOf } from "./conditions.ts";

Deno.test("conditionFields() keeps the conditions given, and nothing else", () => {
  assert.deepEqual(conditionFields({}), {});
  assert.deepEqual(conditionFields({ if: "present", ifVersion: undefined }), { if: "present" });
  const options = { ifVersion: "3.17", ttlSeconds: 9, signal: AbortSignal.timeout(1000) };
  assert.deepEqual(conditionFields(options), { ifVersion: "3.17" });
});

Deno.test("notApplied() is true only for a redirect, no owner, or a request never sent", () => {
  assert.equal(notApplied(new CacheError(421, "The ring changed")), true);
  assert.equal(notApplied(new CacheError(503, "No node is up to own the key")), true);
  assert.equal(notApplied(new Refused("nothing listened")), true);
  for (const status of [0, 412, 500, 502, 504]) {
    assert.equal(notApplied(new CacheError(status, "x")), false, String(status));
  }
});

Deno.test("outcomeOf() turns a 412 into the key's version, and passes other failures on", async () => {
  assert.deepEqual(await outcomeOf(Promise.resolve(undefined)), { ok: true });
  const taken = new CacheError(412, 'Key "k" is at version 3.17', { version: "3.17" });
  assert.deepEqual(await outcomeOf(Promise.reject(taken)), { ok: false, version: "3.17" });
  const gone = new CacheError(412, 'Key "k" is not stored', { version: null });
  assert.deepEqual(await outcomeOf(Promise.reject(gone)), { ok: false, version: null });
  const failed = new CacheError(504, "no answer");
  await assert.rejects(outcomeOf(Promise.reject(failed)), (error) => error === failed);
});
