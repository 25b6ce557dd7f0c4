import assert from "node:assert/strict";
import fc from "fast-check";
import { pageBounds } from "./scan_page.ts";

Deno.test("pageBounds() takes whole slots, the smallest first", () => {
  assert.equal(pageBounds([], 5), undefined);
  assert.deepEqual(pageBounds([9, 3, 3, 7, 12], 2), { last: 3, next: 7 });
  assert.deepEqual(pageBounds([9, 3, 3, 7, 12], 1), { last: 3, next: 7 });
  assert.deepEqual(pageBounds([9, 3, 3, 7, 12], 3), { last: 7, next: 9 });
  assert.deepEqual(pageBounds([9, 3, 3, 7, 12], 5), { last: 12, next: null });
  assert.deepEqual(pageBounds([9, 3, 3, 7, 12], 99), { last: 12, next: null });
});

Deno.test("pageBounds() agrees with sorting every slot", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }),
    fc.integer({ min: 1, max: 320 }),
    (slots, count) => {
      const sorted = [...slots].sort((a, b) => a - b);
      const last = sorted[Math.min(count, sorted.length) - 1];
      const next = sorted.find((slot) => slot > last) ?? null;
      assert.deepEqual(pageBounds(slots, count), { last, next });
    },
  ));
});
