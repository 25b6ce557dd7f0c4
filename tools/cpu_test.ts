import assert from "node:assert/strict";
import { cpuSeconds } from "./cpu.ts";

Deno.test("cpuSeconds() grows with the work a process does, and is undefined for none", async () => {
  const before = await cpuSeconds([Deno.pid]);
  if (before === undefined) {
    console.log("skipped: no /proc on this system");
    return;
  }
  const end = performance.now() + 120;
  let spin = 0;
  while (performance.now() < end) spin++;
  const after = await cpuSeconds([Deno.pid]);
  assert.ok(spin > 0);
  assert.ok(after! - before >= 0.05, `${before} -> ${after}`);
  assert.equal(await cpuSeconds([Deno.pid, 0x7ffffffe]), undefined);
});
