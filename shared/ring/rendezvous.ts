// Rendezvous placement of one slot: every node scores the slot, and the highest scores own it.

import { mix32 } from "./hash.ts";

/** Slots keys fall into: a key's slot is `hash(key) & (SLOTS - 1)`. */
export const SLOTS = 1 << 20;

/**
 * The half of a score that depends on the slot alone, computed once per slot and combined with
 * each node's seed by {@link score}.
 *
 * @example
 * ```ts
 * import { salt, score } from "./rendezvous.ts";
 * import { mix32 } from "./hash.ts";
 * score(7, 42) === mix32(salt(7) ^ 42); // true
 * ```
 */
export function salt(slot: number): number {
  return mix32(Math.imul(slot + 1, 0x9e3779b9));
}

/**
 * How much the node whose address hashes to `seed` wants `slot`, as a 32-bit unsigned integer.
 * The node with the highest score owns the slot, the next is its first backup, and so on. Scores
 * of different nodes for one slot behave as independent uniform draws, so every node owns a slot
 * with the same chance, and a node that joins takes only the slots it now scores highest for.
 *
 * @example
 * ```ts
 * import { score } from "./rendezvous.ts";
 * score(0, 0x1234); // the same number in every process and every version
 * ```
 */
export function score(slot: number, seed: number): number {
  return mix32(salt(slot) ^ seed);
}
