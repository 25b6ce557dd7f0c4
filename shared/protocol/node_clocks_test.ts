import assert from "node:assert/strict";
import { CLOCK_FORGET_MS, CLOCK_SAMPLE_MS, NodeClocks } from "./node_clocks.ts";

const NODE = "http://127.0.0.1:8081";

Deno.test("NodeClocks knows a node's clock from its answers, at most half a round trip off", () => {
  const clock = { now: 1_000_000 };
  const clocks = new NodeClocks(() => clock.now);
  assert.equal(clocks.nowOn(NODE), 1_000_000, "this clock until the node answered");
  // The node, 20 s ahead, answered at its 1_020_004 during a call from 1_000_000 to 1_000_010.
  clocks.observe(NODE, "1020004", 1_000_000, 1_000_010);
  assert.equal(clocks.nowOn(NODE), 1_020_000 - 5 + 4);
  clock.now = 1_000_100;
  assert.equal(clocks.nowOn(NODE), 1_020_099);
  assert.equal(clocks.nowOn("http://127.0.0.1:8082"), 1_000_100, "each node its own");
});

Deno.test("NodeClocks keeps the quickest call's estimate, for a while", () => {
  const clocks = new NodeClocks(() => 0);
  clocks.observe(NODE, "5000", 1000, 1002); // offset 3999, 2 ms round trip
  clocks.observe(NODE, "5150", 1100, 1300); // 200 ms: less sure, not taken
  assert.equal(clocks.nowOn(NODE), 3999);
  clocks.observe(NODE, "6000", 1500, 1500); // quicker: taken
  assert.equal(clocks.nowOn(NODE), 4500);
  // The clock was set meanwhile: once the quick estimate is old, a slower one replaces it.
  const later = 1500 + CLOCK_SAMPLE_MS;
  clocks.observe(NODE, String(later + 100), later - 10, later + 10);
  assert.equal(clocks.nowOn(NODE), 100);
});

Deno.test("NodeClocks takes a slower estimate that the quicker one cannot agree with: a step", () => {
  // A master's clock stepped 30 s ahead: kept, the quick estimate put every deadline sent to it in
  // its past, and each write was refused, for as long as the estimate was kept.
  const clocks = new NodeClocks(() => 0);
  clocks.observe(NODE, "5000", 1000, 1002); // offset 3999, 2 ms round trip
  clocks.observe(NODE, "35150", 1100, 1300); // offset 33950: 30 s past what 3999 ± 101 allows
  assert.equal(clocks.nowOn(NODE), 33950);
});

Deno.test("NodeClocks learns nothing from an answer without a time", () => {
  const clocks = new NodeClocks(() => 50);
  for (const time of [null, "", "soon", "-5", "1.5", "9007199254740993"]) {
    clocks.observe(NODE, time, 0, 10);
  }
  assert.equal(clocks.nowOn(NODE), 50);
});

Deno.test("NodeClocks takes a time sent unasked only while no call told better", () => {
  const clocks = new NodeClocks(() => 0);
  clocks.seed(NODE, "21000", 1000); // a heartbeat: how long it travelled is unknown
  assert.equal(clocks.nowOn(NODE), 20000);
  clocks.observe(NODE, "21500", 1000, 1200); // a call's answer, 200 ms round trip
  assert.equal(clocks.nowOn(NODE), 20400);
  clocks.seed(NODE, "30000", 1300);
  assert.equal(clocks.nowOn(NODE), 20400, "the call's estimate stays");
});

Deno.test("NodeClocks forgets a node not heard from for a while, not one still answering", () => {
  const clocks = new NodeClocks(() => 0);
  const gone = "http://127.0.0.1:8082";
  clocks.observe(gone, "20000", 0, 0); // 20 s ahead, then never heard from again
  clocks.observe(NODE, "20000", 0, 0);
  for (let at = CLOCK_SAMPLE_MS; at < CLOCK_FORGET_MS; at += CLOCK_SAMPLE_MS) {
    clocks.seed(NODE, String(at + 20000), at); // heartbeats keep it
  }
  assert.equal(clocks.nowOn(gone), 20000, "remembered until then");
  clocks.seed(NODE, String(CLOCK_FORGET_MS + 20000), CLOCK_FORGET_MS);
  assert.equal(clocks.nowOn(gone), 0, "forgotten: this clock again");
  assert.equal(clocks.nowOn(NODE), 20000);
});

Deno.test("NodeClocks gives whole milliseconds, early rather than late, for an odd round trip", () => {
  const clock = { now: 1_000_003 };
  const clocks = new NodeClocks(() => clock.now);
  // Sent at 1_000_000, answered at 1_000_003: the midpoint is 1_000_001.5, the node said 1_020_003.
  clocks.observe(NODE, "1020003", 1_000_000, 1_000_003);
  const now = clocks.nowOn(NODE);
  assert.ok(Number.isSafeInteger(now), `${now} is what x-deadline carries: a whole number`);
  assert.equal(now, 1_020_004, "1_020_004.5 rounded down");
});

Deno.test("NodeClocks takes a new estimate once this clock was set back", () => {
  const clock = { now: 100_000 };
  const clocks = new NodeClocks(() => clock.now);
  clocks.observe(NODE, "100000", 100_000, 100_000); // in step, a quick call
  // This clock is set back 60 s; the node's is not. A slower answer still tells the new offset.
  clock.now = 40_010;
  clocks.observe(NODE, "100010", 40_000, 40_010);
  assert.equal(clocks.nowOn(NODE), 100_015);
});

Deno.test("NodeClocks' own clock goes on through a step of the wall clock", () => {
  const wall = Date.now;
  let setBack = 0;
  Date.now = () => wall() - setBack;
  try {
    const clocks = new NodeClocks();
    const sentAt = clocks.now();
    clocks.observe(NODE, String(Math.floor(sentAt) + 5_000), sentAt, sentAt); // 5 s ahead
    const before = clocks.nowOn(NODE);
    setBack = 20_000; // this machine's clock set back 20 s, as NTP may
    // A deadline given now would otherwise land 20 s in the node's past: refused, not applied.
    const moved = clocks.nowOn(NODE) - before;
    assert.ok(moved >= 0 && moved < 1000, `the node's clock seems to move ${moved} ms`);
  } finally {
    Date.now = wall;
  }
});
