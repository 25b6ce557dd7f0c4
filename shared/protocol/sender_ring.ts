// The header naming the ring a sender placed the copies of a `/replicate` by.

import { HttpError } from "./errors.ts";

/**
 * Header on every `/replicate`: the ring its sender placed the copies by, as `<term>/<epoch>`. A
 * copy's own epoch is its write's, so without it a receiver cannot tell a sender behind it.
 */
export const SENDER_RING_HEADER = "x-sender-ring";

/** A ring as a sender names it. */
export interface RingRef {
  term: number;
  epoch: number;
}

/**
 * {@link SENDER_RING_HEADER}'s value for `ring`.
 *
 * @example
 * ```ts
 * import { senderRing } from "./sender_ring.ts";
 * senderRing({ term: 2, epoch: 17 }); // "2/17"
 * ```
 */
export function senderRing(ring: RingRef): string {
  return `${ring.term}/${ring.epoch}`;
}

const SENDER_RING = /^(\d{1,16})\/(\d{1,16})$/;

/**
 * The ring a `/replicate` was sent by: undefined without the header; 400 for a malformed one.
 *
 * @example
 * ```ts
 * import { readSenderRing } from "./sender_ring.ts";
 * readSenderRing("2/17"); // { term: 2, epoch: 17 }
 * readSenderRing(null); // undefined
 * ```
 */
export function readSenderRing(value: string | null): RingRef | undefined {
  if (value === null) return undefined;
  const match = SENDER_RING.exec(value);
  if (!match) {
    throw new HttpError(400, `Header ${SENDER_RING_HEADER} must be <term>/<epoch>, got "${value}"`);
  }
  return { term: Number(match[1]), epoch: Number(match[2]) };
}
