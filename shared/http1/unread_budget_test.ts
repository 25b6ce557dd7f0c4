// The unread answers' budget: reads are let in under half of it; one answer alone always fits.

import assert from "node:assert/strict";
import { UnreadBudget } from "./unread_budget.ts";

const MB = 1024 * 1024;

Deno.test("UnreadBudget lets a read in under half the budget, and one answer of any size", () => {
  const budget = new UnreadBudget(64 * MB);
  assert.equal(budget.pastHalf(), false);
  assert.equal(budget.wouldPass(500 * MB), false, "one answer alone may be held");
  budget.hold(32 * MB);
  assert.equal(budget.pastHalf(), false, "at half, not past it");
  assert.equal(budget.wouldPass(32 * MB), false);
  assert.equal(budget.wouldPass(32 * MB + 1), true);
  budget.hold(1);
  assert.equal(budget.pastHalf(), true);
  budget.release(32 * MB + 1);
  assert.equal(budget.unsent, 0);
  assert.equal(budget.pastHalf(), false);
});

Deno.test("UnreadBudget counts an answer's own bytes, made already, once", () => {
  const budget = new UnreadBudget(64 * MB);
  budget.hold(96 * MB); // an answer counted as it was made, larger than the budget
  assert.equal(budget.wouldPass(96 * MB, 96 * MB), false, "alone, it may be held");
  budget.hold(1 * MB); // another's
  assert.equal(budget.wouldPass(96 * MB, 96 * MB), true);
});
