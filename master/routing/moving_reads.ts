// Reads while keys move between rings: the newest copy on any owner, old or new, and read repair.

import { HttpError } from "@cache/protocol/errors";
import { keySegment } from "@cache/protocol/key_path";
import { newer, type Replica } from "@cache/protocol/replica";
import type { Ring } from "@cache/ring/ring";
import type { PlacedBy, Transport } from "./transport.ts";

/** A read that found the key missing on an owner while keys move. */
export interface MovingRead {
  key: string;
  /** The key's owners in the current ring, primary first. */
  owners: string[];
  /** The rings keys are moving from, newest first. */
  moving: readonly Ring[];
  /** Copies of each key: how many owners it has in each ring. */
  replicas: number;
  /** A node that just failed to answer for the key: not asked. */
  failed: string | undefined;
  /** The ring that gave the key `owners`, which read repair names. */
  placedBy: PlacedBy;
  /** Nodes of earlier rings not asked: gone with nothing the owners lack (`Placement.notAsked`). */
  notAsked?: (node: string) => boolean;
  /**
   * The version the cluster's last flush went through: a state stamped at or below it is one the
   * flush emptied, which a node it missed may answer until it learns the flush from the ring.
   */
  flushed?: number;
}

/**
 * A read while keys move, after an owner missed: the versioned state of the key on every owner,
 * in this ring and in the rings it is moving from, the newest (by epoch, then version) winning;
 * undefined when no one holds it. Found on no one it is a miss only if everyone answered; else
 * the error of one that did not. Owners that lack the newest state get it (read repair), in the
 * background.
 */
export async function readMoving(
  transport: Transport,
  { key, owners, moving, replicas, failed, placedBy, notAsked, flushed = 0 }: MovingRead,
): Promise<Replica | undefined> {
  const candidates = [...owners];
  for (const ring of moving) {
    for (const node of ring.owners(key, replicas)) {
      if (!candidates.includes(node) && !notAsked?.(node)) candidates.push(node);
    }
  }
  const asked = candidates.filter((node) => node !== failed);
  const path = replicaPath(key);
  let found = await statesOn(transport, asked, path, placedBy, flushed);
  // A node hands a key over and drops it only once its new owners have it: asked at once, a new
  // owner may answer before the key landed and its old one after it let go. Missed by everyone,
  // the owners are asked again: one that took it since has it.
  const owned = asked.filter((node) => owners.includes(node));
  if (!found.newest && !found.failure && owned.length < asked.length) {
    found = await statesOn(transport, owned, path, placedBy, flushed);
  }
  const { newest, held, answered } = found;
  const failure = found.failure ??
    (failed ? new HttpError(502, `Node ${failed} failed to answer`) : undefined);
  // Every write acknowledged in this ring is on all its owners: one of them must have answered.
  if (!owners.some((owner) => held.has(owner) || answered.has(owner))) {
    throw failure ?? new HttpError(502, "No owner of the key answered");
  }
  // A node asked that did not answer may hold a newer state than any found, unless the newest
  // was written in this ring: it outranks every earlier ring's. Answered as the newest, a state
  // older than an acknowledged write was read while its holder was slow.
  if (found.failure && (newest?.replica.epoch ?? -1) < placedBy.epoch) throw found.failure;
  if (!newest) {
    if (failure) throw failure;
    return undefined;
  }
  for (const owner of owners) {
    const mine = held.get(owner);
    if (owner !== failed && (!mine || newer(newest.replica, mine))) {
      transport.replicate(owner, [newest.replica], placedBy).catch(() => {});
    }
  }
  return newest.replica;
}

/** What the nodes asked for a key's state answered: the newest state, who held what, who missed. */
interface States {
  newest: { node: string; replica: Replica } | undefined;
  held: Map<string, Replica>;
  /** Nodes that answered 404: neither the key nor its deletion. */
  answered: Set<string>;
  /** The failure of a node that did not answer, if any did not. */
  failure: unknown;
}

/**
 * The state of the key at `path` on each of `nodes`, asked at once. A state stamped at or below
 * `flushed` counts as missing: the flush emptied it everywhere else.
 */
async function statesOn(
  transport: Transport,
  nodes: string[],
  path: string,
  placedBy: PlacedBy,
  flushed: number,
): Promise<States> {
  // Named by this ring: an owner in an earlier one that has not heard of it takes it first, and
  // so no more writes by its own. Else it could acknowledge one after this read, and the state
  // repaired onto the key's owners here would be older than an acknowledged write.
  const states = await Promise.allSettled(
    nodes.map((node) => transport.read(node, path, placedBy)),
  );
  const found: States = {
    newest: undefined,
    held: new Map(),
    answered: new Set(),
    failure: undefined,
  };
  states.forEach((state, i) => {
    if (state.status === "rejected") {
      if (state.reason instanceof HttpError && state.reason.status === 404) {
        found.answered.add(nodes[i]);
      } else found.failure = state.reason;
      return;
    }
    const replica = state.value as Replica;
    if (replica.version <= flushed) {
      found.answered.add(nodes[i]);
      return;
    }
    found.held.set(nodes[i], replica);
    if (!found.newest || newer(replica, found.newest.replica)) {
      found.newest = { node: nodes[i], replica };
    }
  });
  return found;
}

/**
 * Copies `key`'s versioned state from node `from` to node `to`, an owner in the ring `placedBy`,
 * in the background.
 */
export function repair(
  transport: Transport,
  key: string,
  from: string,
  to: string,
  placedBy: PlacedBy,
): void {
  transport.read(from, replicaPath(key), placedBy) // see readMoving: `from` takes the ring first
    .then((replica) => transport.replicate(to, [replica], placedBy))
    .catch(() => {}); // best effort: the nodes' own key moves get there too
}

const replicaPath = (key: string) => `/replica/${keySegment(key)}`;
