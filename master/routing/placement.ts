// Where keys live: the ring the master routes by, and the owners it names for a key.

import { groupBy } from "@cache/async/group";
import { HttpError } from "@cache/protocol/errors";
import { stillRecovering } from "../membership/recovery.ts";
import type { Ring } from "@cache/ring/ring";

/** Where keys live: the current ring and, while keys move, the rings they are moving from. */
export interface Placement {
  readonly ring: Ring;
  readonly epoch: number;
  /** The election term of the ring, when the master knows it. */
  readonly term?: number;
  /** Copies of each key: owners(key, replicas) are its primary, then its backups. */
  readonly replicas: number;
  /** Rings of earlier epochs whose keys may not have reached their new owners, newest first. */
  readonly unsettledRings: readonly Ring[];
  /** Whether the master is still learning the last ring from its nodes. */
  readonly recovering?: boolean;
  /**
   * Whether an earlier ring that names `node` need not ask it: it left after reporting its keys
   * handed over for the current ring (its copies are all on current owners), or it is marked down
   * (its copies no longer count: it drops them when it beats again).
   */
  notAsked?(node: string): boolean;
  /**
   * Whether `node`, marked down while leaving, may still hand its keys over: it may hold keys no
   * one else has, so a scan must hear from it. A flush need not reach it: a flush some node took
   * makes it rejoin empty.
   */
  mayHandOver?(node: string): boolean;
  /** Called as a flush begins, before its first round (see `Scans.flush`). */
  flushBegins?(): void;
  /**
   * Called once a flush's first round is over, with the version it goes through, to make known to
   * the nodes with the ring; undefined when no node took it (see `Scans.flush`).
   */
  flushFirstRoundDone?(through: number | undefined): void;
  /** The version the cluster's last flush went through, as this master knows it; 0 for none. */
  readonly flushed?: number;
}

/** The owner of `key`; throws HttpError 503 when no node is up. */
export function ownerOf(placement: Placement, key: string): string {
  const owner = placement.ring.owner(key);
  if (owner === undefined) throw noOwner(placement);
  return owner;
}

/**
 * The error for keys no node owns: 503, saying why when the master is still recovering; `what`
 * names them ("the key", "the keys", "any key").
 */
export function noOwner(placement: Placement, what = "the key"): HttpError {
  return placement.recovering
    ? stillRecovering()
    : new HttpError(503, `No node is up to own ${what}`);
}

/** Groups `items` by the owner of their key, keeping their order within each group. */
export function byOwner<T>(
  placement: Placement,
  items: T[],
  keyOf: (item: T) => string,
): Map<string, T[]> {
  if (placement.ring.size === 0 && items.length > 0) throw noOwner(placement, "the keys");
  return groupBy(items, (item) => ownerOf(placement, keyOf(item)));
}
