// What the node's routes share: the context they are given and how they read a request's routing.

import { type Answer, NO_CONTENT, type WireAnswer } from "../../shared/http1/answer.ts";
import { keyNotFound } from "../../shared/protocol/key_routes.ts";
import {
  DEADLINE_HEADER,
  EPOCH_HEADER,
  headerNumber,
  type StoredItem,
  VERSION_FLOOR_HEADER,
} from "../../shared/protocol/wire.ts";
import { roleOf } from "../../shared/service/auth.ts";
import type { HotRequest } from "../../shared/service/hot.ts";
import type { RebalanceProgress } from "../cluster/rebalance.ts";
import type { RingRef } from "@cache/protocol/sender_ring";
import type { ScanBudget } from "./scan_budget.ts";
import type { Routing } from "../cluster/replicator.ts";
import type { Condition, Item, Writer } from "../cluster/writer.ts";
import type { Read, Store } from "../store/store.ts";

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

/** A read as it goes on the wire: `ttl` in seconds, only for a key that expires. */
export function item(key: string, found: Read): StoredItem {
  return found.ttlMs === undefined
    ? { key, value: found.value, version: found.version }
    : { key, value: found.value, ttl: found.ttlMs / 1000, version: found.version };
}

/**
 * {@link item} as JSON, as `JSON.stringify()` writes it. The version is written as it is (digits
 * and a dot: nothing to escape): `JSON.stringify()` of an object holding a freshly joined string
 * took twice as long as the whole of the rest.
 */
export function itemJson(key: string, found: Read): string {
  const ttl = found.ttlMs === undefined ? "" : ',"ttl":' + JSON.stringify(found.ttlMs / 1000);
  return '{"key":' + JSON.stringify(key) + ',"value":' + JSON.stringify(found.value) + ttl +
    ',"version":"' + found.version + '"}';
}

/** The answer to `GET /keys/{key}`: the item, or the not-found error. */
export function readAnswer(key: string, found: Read | undefined): WireAnswer {
  return {
    status: found === undefined ? 404 : 200,
    contentType: "application/json",
    body: found === undefined ? JSON.stringify(keyNotFound(key)) : itemJson(key, found),
  };
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
    epoch: headerNumber(request.headers.get(EPOCH_HEADER)),
    deadline: headerNumber(request.headers.get(DEADLINE_HEADER)),
    floor: headerNumber(request.headers.get(VERSION_FLOOR_HEADER)),
    ...(role === "client" ? { untrusted: true } : {}),
  };
}
