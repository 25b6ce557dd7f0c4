// A scan page's selection over 50,000 slots in an order a client chose to defeat a selection on a
// fixed pivot, against the same slots shuffled (the group baseline): the ratio stays near 1.

import { pageBounds } from "./scan_page.ts";

const N = 50_000;

/** Slots placed so that the middle of every range a fixed-middle-pivot selection keeps holds its
 * largest value: each round would then set aside one slot, for N² work. */
function middleKiller(n: number): Float64Array {
  const ids = Array.from({ length: n }, (_, i) => i);
  const slots = new Float64Array(n).fill(-1);
  let next = n - 1;
  for (let hi = n - 1; hi > 0; hi--) {
    const mid = hi >>> 1;
    slots[ids[mid]] = next--;
    [ids[mid], ids[hi]] = [ids[hi], ids[mid]];
  }
  for (let i = 0; i < n; i++) if (slots[i] < 0) slots[i] = next--;
  return slots;
}

const chosen = middleKiller(N);
const shuffled = Float64Array.from(chosen).sort();
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
}

Deno.bench("pageBounds(), slots shuffled", { group: "scan page", baseline: true }, () => {
  pageBounds(shuffled, 1);
});
Deno.bench("pageBounds(), slots in a client's chosen order", { group: "scan page" }, () => {
  pageBounds(chosen, 1);
});
