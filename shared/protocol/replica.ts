// A key's versioned state as nodes exchange it, and the order that decides which state wins.

import { z } from "zod";
import { Key, MAX_TTL_SECONDS, Value, Version } from "./wire.ts";

/**
 * A key's state as replicas exchange it: a value with its version and time left, or a deletion
 * (`deleted`) with its version. A replica applies it only if it is newer than its own state, by
 * ring epoch first, then by version (see {@link newer}). `epoch` absent is 0, older than any ring.
 */
export const Replica = z.strictObject({
  key: Key,
  version: z.number().int().positive(),
  epoch: z.number().int().min(0).optional().meta({
    description: "The ring epoch the write was made in: state is ordered by epoch, then version",
  }),
  value: Value.optional(),
  ttlMs: z.number().positive().max(MAX_TTL_SECONDS * 1000).optional(),
  deleted: z.boolean().optional(),
  requests: z.array(z.strictObject({
    id: z.string().min(1).max(100),
    value: z.number().int(),
    version: Version,
  })).max(64).optional().meta({
    description: "Increments recently applied to the key, by request id, so that whichever " +
      "node owns it next does not apply a retried one twice",
  }),
}).meta({ id: "Replica" });

/** A key's state as replicas exchange it. */
export type Replica = z.infer<typeof Replica>;

/**
 * The time left of a key whose expiry is `ms` from now, as a replica's `ttlMs`: at least 1 (a due
 * key expires at once where it lands, where none would keep it forever) and at most the longest
 * TTL (a clock set back must not make the copy one the receiver refuses).
 */
export function ttlLeft(ms: number): number {
  return Math.min(MAX_TTL_SECONDS * 1000, Math.max(1, Math.ceil(ms)));
}

/**
 * `replica` as it stands `elapsedMs` after it was read: its TTL shortened by that, so a copy that
 * waited to be sent does not outlive the key it copies by that wait; its time on the way (the
 * call, the receiver's queue) is not counted. The same object when it has no TTL or nothing passed.
 *
 * @example
 * ```ts
 * import { aged } from "./replica.ts";
 * aged({ key: "k", version: 1, value: "v", ttlMs: 1000 }, 800); // ttlMs 200
 * ```
 */
export function aged<T extends { ttlMs?: number }>(replica: T, elapsedMs: number): T {
  if (replica.ttlMs === undefined || elapsedMs < 1) return replica;
  return { ...replica, ttlMs: ttlLeft(replica.ttlMs - elapsedMs) };
}

/**
 * A key a replica holds a newer state of than the copy it was sent, and that state's stamp: a
 * copy of a write its primary never stored, which the primary writes over (see `/replicate`).
 */
export const NewerState = z.object({
  key: Key,
  version: z.number().int().positive(),
  epoch: z.number().int().min(0).optional(),
}).meta({ id: "NewerState" });

/** A state a primary evicted, which its backups drop too if they hold it or an older one. */
export const EvictedState = z.strictObject({
  key: Key,
  version: z.number().int().positive(),
  epoch: z.number().int().min(0),
}).meta({ id: "EvictedState" });

/** A state a primary evicted. */
export type EvictedState = z.infer<typeof EvictedState>;

/** What a replica answers to copies: how many it applied, and the keys it holds newer. */
export const ReplicateAnswer = z.object({
  applied: z.number().int().min(0),
  newer: z.array(NewerState).optional().meta({
    description: "Keys this node holds a newer state of than the copy sent, or refused as at or " +
      "below the version a flush went through (that version named); none when empty",
  }),
}).meta({ id: "Applied" });

/** What a replica answers to copies. */
export type ReplicateAnswer = z.infer<typeof ReplicateAnswer>;

/** A key a replica holds newer than the copy it was sent. */
export type NewerState = z.infer<typeof NewerState>;

/** When a write was made: its ring epoch (0 for none) and its version within it. */
export interface Stamp {
  version: number;
  epoch?: number;
}

/**
 * Whether state stamped `a` is newer than state stamped `b`: ring epoch first, so a primary
 * fenced out of a newer ring never wins with its clock; within one epoch, the version.
 *
 * @example
 * ```ts
 * import { newer } from "./replica.ts";
 * newer({ epoch: 8, version: 1 }, { epoch: 7, version: 999 }); // true
 * ```
 */
export function newer(a: Stamp, b: Stamp): boolean {
  const epochA = a.epoch ?? 0;
  const epochB = b.epoch ?? 0;
  return epochA > epochB || (epochA === epochB && a.version > b.version);
}
