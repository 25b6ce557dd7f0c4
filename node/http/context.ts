// What the node's routes share: the context they are given and how they read a request's routing.

import { type Answer, NO_CONTENT } from "@cache/http1/answer";
import {
  DEADLINE_HEADER,
  EPOCH_HEADER,
  headerNumber,
  VERSION_FLOOR_HEADER,
  versionFloor,
} from "@cache/protocol/wire";
import { roleOf } from "@cache/service/auth";
import type { HotRequest } from "@cache/service/hot";
import type { RebalanceProgress } from "../cluster/rebalance.ts";
import type { RingRef } from "@cache/protocol/sender_ring";
import type { ScanBudget } from "./scan_budget.ts";
import type { Routing } from "../cluster/replicator.ts";
import type { Condition, Item, Writer } from "../cluster/writer.ts";
import type { Store } from "../store/store.ts";

/** What the node's routes share. */
export interface NodeContext {
  store: Store;
  writer: Writer;
  /** Longest value taken, in UTF-8 bytes; an `/mget` answer may carry one. */
  maxValueBytes: number;
  now: () => number;
  startedAt: number;
  rebalance?: () => RebalanceProgress;
  /**
   * Told of the entries each `/replicate` applied and the ring its sender placed them by (see
   * `Strays` and `Rebalancer.claimed`).
   */
  replicated?: (entries: Iterable<{ key: string }>, from: RingRef) => Promise<boolean> | void;
  /**
   * Milliseconds a `/replicate` from a sender on an older ring waits for its keys to be sent on
   * (what `replicated` returns) before it answers 504; default 1000.
   */
  sendOnWaitMs?: number;
  /** Why `/replicate` is refused (503) now, as once a leaving node handed its keys over. */
  refusesCopies?: () => string | undefined;
  /** The share of the node's time scans with a client token may take. */
  scanBudget?: Pick<ScanBudget, "wait" | "spend">;
  /**
   * How many of the keys held (due ones expired) this node is the primary of in the ring it
   * knows, read as the call is made once that ring's slots are marked; undefined, or without it,
   * every key.
   */
  primaryKeys?: () => Promise<number | undefined>;
}

/** Writes `items` as a request routed them, answering 204 once they are on every owner. */
export async function stored(
  writer: Writer,
  items: Item[],
  request: HotRequest,
  condition?: Condition,
): Promise<Answer> {
  await writer.write(items, routing(request), condition);
  return NO_CONTENT;
}

/**
 * The ring epoch a request was routed with, its sender's deadline and the version its writes must
 * be given one above, from its headers. A client token's epoch is not taken as news of a newer
 * ring: only the master and nodes may make this node ask for one (without tokens, one ask at a
 * time is shared by every request).
 */
export function routing(request: HotRequest): Routing {
  const role = roleOf(request);
  return {
    epoch: headerNumber(EPOCH_HEADER, request.headers.get(EPOCH_HEADER)),
    deadline: headerNumber(DEADLINE_HEADER, request.headers.get(DEADLINE_HEADER)),
    floor: versionFloor(request.headers.get(VERSION_FLOOR_HEADER)),
    ...(role === "client" ? { untrusted: true } : {}),
  };
}
