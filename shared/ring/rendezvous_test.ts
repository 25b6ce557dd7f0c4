import assert from "node:assert/strict";
import { mix32 } from "./hash.ts";
import { salt, score, SLOTS } from "./rendezvous.ts";

Deno.test("score() keeps the values every process and version places keys by", () => {
  // Changing these changes where every key lives: a cluster and its clients must agree.
  assert.equal(SLOTS, 1_048_576);
  assert.equal(salt(0), 2462723854);
  assert.equal(salt(SLOTS - 1), 2616962306);
  assert.equal(score(0, 0), 2856213345);
  assert.equal(score(12345, 0xdeadbeef), 921581366);
  assert.equal(score(12345, 0xdeadbeef), mix32(salt(12345) ^ 0xdeadbeef));
});

Deno.test("score() gives each of 8 seeds about an eighth of the highest scores", () => {
  const seeds = Array.from({ length: 8 }, (_, i) => mix32(i + 1));
  const wins = new Array(8).fill(0);
  for (let slot = 0; slot < 80_000; slot++) {
    const scores = seeds.map((seed) => score(slot, seed));
    wins[scores.indexOf(Math.max(...scores))]++;
  }
  // 10,000 expected each; binomial sd ~94, so ±500 is more than 5 sd.
  for (const count of wins) assert.ok(Math.abs(count - 10_000) < 500, `${wins}`);
});
