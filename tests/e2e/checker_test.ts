// The consistency checker's verdict and figures on hand-made histories.

import assert from "node:assert/strict";
import { judge, type Read, summarise, type Write } from "../support/checker.ts";
import { prng } from "../support/workload.ts";

/** Writes of key `k`: #1 acked at 10, #2 acked at 30, #3 failed at 50, #4 acked at 100. */
const writes: Write[] = [
  { seq: 1, start: 0, end: 10, acked: true },
  { seq: 2, start: 20, end: 30, acked: true },
  { seq: 3, start: 40, end: 50, acked: false },
  { seq: 4, start: 60, end: 100, acked: true },
].map((w) => ({ ...w, key: "k", value: `k#${w.seq}`, phase: "p", route: "master" }));

function read(start: number, end: number, value?: string, error?: string): Read {
  return { key: "k", start, end, value, error, phase: "p", route: "direct", final: false };
}

Deno.test("judge() holds a read to the last write acknowledged before it began", () => {
  assert.equal(judge(read(35, 38, "k#1"), writes), "stale"); // #2 was acked at 30
  assert.equal(judge(read(35, 38), writes), "lost");
  assert.equal(judge(read(200, 210, "k#3"), writes), "stale"); // attempted, then #4 acked
  assert.equal(judge(read(35, 38, "k#2"), writes), "ok");
});

Deno.test("judge() does not hold a read to a write acknowledged after it began", () => {
  assert.equal(judge(read(5, 12), writes), "ok"); // #1 acked at 10, after the read began
  assert.equal(judge(read(15, 40, "k#1"), writes), "ok"); // #2 in flight
  assert.equal(judge(read(25, 40, "k#1"), writes), "ok"); // #2 acked at 30, read began at 25
});

Deno.test("judge() takes a value still in flight or attempted as a newer one", () => {
  assert.equal(judge(read(25, 28, "k#2"), writes), "ok"); // #2 sent at 20, acked later
  assert.equal(judge(read(55, 58, "k#3"), writes), "ok"); // failed, yet newer than #2
  assert.equal(judge(read(65, 70, "k#4"), writes), "ok"); // in flight
  const inFlight = [...writes.slice(0, 3), { ...writes[3], end: Infinity, acked: false }];
  assert.equal(judge(read(200, 210, "k#4"), inFlight), "ok");
  assert.equal(judge(read(200, 210, "k#3"), inFlight), "ok"); // #4 never acknowledged
});

Deno.test("judge() calls a value no write had sent by then never written", () => {
  assert.equal(judge(read(35, 38, "k#4"), writes), "phantom"); // #4 sent at 60
  assert.equal(judge(read(35, 38, "k#9"), writes), "phantom");
  assert.equal(judge(read(35, 38, "other#1"), writes), "phantom");
  assert.equal(judge(read(35, 38), []), "ok"); // never written: 404 is right
});

Deno.test("judge() counts a failed read as an error, not a violation", () => {
  assert.equal(judge(read(200, 210, undefined, "503"), writes), "error");
});

Deno.test("summarise() counts violations and the time until requests succeed again", () => {
  const reads = [
    read(35, 38, "k#1"), // stale
    read(1035, 1038, undefined, "502"),
    read(1500, 1600, undefined, "timeout"),
    { ...read(2000, 2001), final: true }, // lost
    { ...read(2002, 2003, "k#4"), final: true },
    { ...read(2004, 2005, "k#4"), phase: "other" },
  ];
  const figures = summarise("p", 1000, new Map([["k", writes]]), reads);
  assert.deepEqual(
    { ...figures, examples: figures.examples.length },
    {
      fault: "p",
      reads: 5,
      writes: 4,
      errors: 3, // two reads and the write that failed
      recoveredSeconds: 0.6, // the last failure ended at 1600
      lost: 1,
      stale: 1,
      phantom: 0,
      finalViolations: 1,
      unreadable: 0,
      errorsByRoute: { direct: 2, master: 1 },
      byRoute: { direct: 2 },
      examples: 2,
    },
  );
  assert.match(
    figures.examples[0],
    /^stale: k read "k#1" \(sent at -1\.00 s via master, acknowledged\) via direct at -0\.96 s, #2 ack/,
  );
  const down = summarise("p", 1000, new Map(), [read(1500, 1600, undefined, "502")]);
  assert.equal(down.recoveredSeconds, null, "nothing succeeded after the failure");
  assert.equal(down.unreadable, 0);
});

Deno.test("prng() repeats for a seed and differs by stream", () => {
  const draw = (random: () => number) => Array.from({ length: 5 }, random);
  assert.deepEqual(draw(prng(42)), draw(prng(42)));
  assert.notDeepEqual(draw(prng(42)), draw(prng(42, 1)));
  assert.ok(draw(prng(7)).every((x) => x >= 0 && x < 1));
});
