// The unread answers' budget: reads past half of it wait in turn, one made at a time, or time out.

import assert from "node:assert/strict";
import { UnreadBudget } from "./unread_budget.ts";

const MB = 1024 * 1024;
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("UnreadBudget lets a read in at once under half the budget, and one answer of any size", () => {
  const budget = new UnreadBudget(64 * MB);
  assert.equal(budget.crowded(), false);
  assert.equal(budget.over(500 * MB), false, "one answer alone may be held");
  budget.hold(32 * MB);
  assert.equal(budget.crowded(), false, "at half, not past it");
  assert.equal(budget.over(32 * MB), false);
  assert.equal(budget.over(32 * MB + 1), true);
  budget.hold(1);
  assert.equal(budget.crowded(), true);
  budget.release(32 * MB + 1);
  assert.equal(budget.unsent, 0);
  assert.equal(budget.crowded(), false);
});

Deno.test("UnreadBudget.turn() waits until answers are taken, and lets the waiting in one at a time", async () => {
  const budget = new UnreadBudget(64 * MB, 5_000);
  budget.hold(40 * MB); // past half: reads wait
  const order: string[] = [];
  const first = budget.turn().then((end) => (order.push("first"), end));
  const second = budget.turn().then((end) => (order.push("second"), end));
  await tick();
  assert.deepEqual(order, []);
  assert.equal(budget.crowded(), true, "a read arriving now waits behind them");
  budget.release(20 * MB); // 20 MB held: room for one
  const endFirst = await first;
  assert.ok(endFirst);
  await tick();
  assert.deepEqual(order, ["first"], "the second waits until the first's answer is counted");
  budget.hold(15 * MB); // the first's answer, 35 MB held: past half again
  endFirst();
  await tick();
  assert.deepEqual(order, ["first"]);
  budget.release(15 * MB); // its client took it
  const endSecond = await second;
  assert.deepEqual(order, ["first", "second"]);
  endSecond!();
  endSecond!(); // twice is once
  assert.equal(budget.crowded(), false);
});

Deno.test("UnreadBudget.turn() gives up when no room comes within the wait; the next is still let in", async () => {
  const budget = new UnreadBudget(64 * MB, 50);
  budget.hold(40 * MB);
  const started = performance.now();
  assert.equal(await budget.turn(), undefined);
  assert.ok(performance.now() - started >= 45);
  assert.equal(budget.crowded(), true, "still past half");
  budget.release(40 * MB);
  assert.equal(budget.crowded(), false, "the one that gave up waits no more");
  const end = await budget.turn();
  assert.ok(end, "room: a turn at once");
  end();
});

Deno.test("UnreadBudget.turn() refuses at once past 256 reads waiting", async () => {
  const budget = new UnreadBudget(64 * MB, 100);
  budget.hold(40 * MB);
  const waiting = Array.from({ length: 256 }, () => budget.turn());
  assert.equal(await budget.turn(), undefined);
  budget.release(40 * MB);
  const turns = [];
  for (const turn of waiting) {
    const end = await turn;
    assert.ok(end);
    turns.push(end);
    end(); // each answer counted as nothing: the next goes
  }
  assert.equal(turns.length, 256);
});
