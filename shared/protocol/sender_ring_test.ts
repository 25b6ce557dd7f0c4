// Tests of the sender's ring header: written and read back, anything else refused.

import assert from "node:assert/strict";
import { HttpError } from "./errors.ts";
import { readSenderRing, senderRing } from "./sender_ring.ts";

Deno.test("readSenderRing() reads <term>/<epoch> and refuses anything else with 400", () => {
  assert.deepEqual(readSenderRing(senderRing({ term: 2, epoch: 1_700_000_000_123 })), {
    term: 2,
    epoch: 1_700_000_000_123,
  });
  assert.equal(readSenderRing(null), undefined);
  for (const bad of ["", "1", "1/", "/1", "1/2/3", "-1/2", "1/2 ", "a/b", "1/12345678901234567"]) {
    assert.throws(
      () => readSenderRing(bad),
      (error) => error instanceof HttpError && error.status === 400,
      bad,
    );
  }
});
