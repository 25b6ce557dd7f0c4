// Tests of ScanBudget: client scans get their share of the node's time, and no more.

import assert from "node:assert/strict";
import { ScanBudget } from "./scan_budget.ts";

Deno.test("ScanBudget lets scans in until their time is spent, then says how long to wait", () => {
  let now = 0;
  const budget = new ScanBudget({ share: 0.25, burstMs: 250, now: () => now });
  assert.equal(budget.wait(), 0);
  budget.spend(200);
  assert.equal(budget.wait(), 0, "50 ms left");
  budget.spend(800); // one long page: 750 ms over
  assert.equal(budget.wait(), 3, "750 ms at 250 ms a second");
  now = 2_000;
  assert.equal(budget.wait(), 1, "250 ms over still");
  now = 3_001;
  assert.equal(budget.wait(), 0);
});

Deno.test("ScanBudget fills up to its burst and no further while idle", () => {
  let now = 0;
  const budget = new ScanBudget({ share: 0.25, burstMs: 250, now: () => now });
  now = 60_000;
  budget.spend(250);
  budget.spend(1);
  assert.equal(budget.wait(), 1, "a minute idle gives no more than the burst");
});
