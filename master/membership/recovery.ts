// A restarted master's first moments: it learns the last ring from what its nodes report.

import { HttpError } from "@cache/protocol/errors";
import { newerRing, type RingView } from "@cache/protocol/wire";

/** What a route's 503 says of a master still learning the last ring, in the documents. */
export const RECOVERING = "The master just started and is learning the last ring from its nodes";

/**
 * The answer of a master still learning the last ring from its nodes (503): to a key route, and to
 * a listing (`/nodes`, `/stats`) whose empty answer would read as an empty cluster.
 */
export function stillRecovering(): HttpError {
  return new HttpError(
    503,
    "The master is learning the last ring from its nodes: try again shortly",
  );
}

/**
 * What a master that starts (or comes to lead) with no ring has heard: which nodes heartbeated,
 * and the newest ring any of them follows. It is done once every node of that ring is back, or
 * at its deadline, whichever comes first: until then nodes of the last ring may still come back,
 * so the master routes nothing rather than answer from a partial ring.
 *
 * @example
 * ```ts
 * import { Recovery } from "./recovery.ts";
 * const recovery = new Recovery(Date.now() + 3000);
 * recovery.heard("http://10.0.0.5:8081", undefined); // a node with no ring yet
 * recovery.done(Date.now()); // false: a node of an earlier ring may still come back
 * ```
 */
export class Recovery {
  readonly #until: number;
  readonly #heard = new Set<string>();
  // What each node heard reported, for the nodes a newer ring dropped.
  readonly #rings = new Map<string, RingView>();
  #last: RingView | undefined;

  /** `until`: milliseconds since 1970 after which the master stops waiting. */
  constructor(until: number) {
    this.#until = until;
  }

  /**
   * Records a heartbeat from `address`, with the ring that node follows, if any. Of the reports of
   * one ring, the latest (by `version`) is kept: the nodes it lists outside change within its
   * epoch.
   */
  heard(address: string, ring: RingView | undefined): void {
    this.#heard.add(address);
    if (ring) this.#rings.set(address, ring);
    const last = this.#last;
    if (ring && (!last || newerRing(ring, last) || laterReport(ring, last))) this.#last = ring;
  }

  /**
   * The nodes heard that follow an earlier ring of the last ring's term holding them, which the
   * last ring dropped: marked down meanwhile, so what they hold may be stale. (A ring of an older
   * term may hold nodes a lagging leader never knew of.)
   */
  dropped(): string[] {
    const last = this.#last;
    if (!last) return [];
    return [...this.#rings].filter(([address, ring]) => droppedBy(last, address, ring))
      .map(([address]) => address);
  }

  /**
   * The nodes the last ring lists leaving, or marked down while leaving, each with the
   * milliseconds left of its handover the ring gave (undefined: not said): they may still hold keys
   * no one else has. None once a node reports that ring settled: every leaving node had handed its
   * keys over, or its time was over.
   */
  leavers(): Map<string, number | undefined> {
    const last = this.#last;
    const leavers = new Map<string, number | undefined>();
    if (!last || this.#settledSeen(last)) return leavers;
    const named = [...Object.keys(last.outside ?? {}), ...Object.keys(last.downWhileLeaving ?? {})];
    for (const address of named) {
      const ms = handoverLeftIn(last, address);
      if (ms !== undefined || last.outside?.[address] === "leaving") leavers.set(address, ms);
    }
    return leavers;
  }

  /** Whether a node reports `last` (its term and epoch) settled, or does not say. */
  #settledSeen(last: RingView): boolean {
    return [...this.#rings.values()].some((ring) =>
      ring.term === last.term && ring.epoch === last.epoch && ring.settled !== false
    );
  }

  /** The newest ring the nodes reported. */
  get last(): RingView | undefined {
    return this.#last;
  }

  /** The nodes of the last ring not heard from. */
  missing(): string[] {
    return (this.#last?.nodes ?? []).filter((node) => !this.#heard.has(node));
  }

  /** Whether to stop waiting at `now`: every node of the last ring is back, or time is up. */
  done(now: number): boolean {
    return now >= this.#until || (this.#last !== undefined && this.missing().length === 0);
  }
}

/**
 * Whether `ring`, which the node at `address` reports, held it, and `later` (an epoch of the same
 * term after it, over `later.nodes`) does not: a master marked the node down since. A ring of
 * another term is not judged: a lagging leader may never have known it.
 *
 * @example
 * ```ts
 * import { droppedBy } from "./recovery.ts";
 * const ring = { term: 1, epoch: 5, replicas: 1, nodes: ["x", "y"], joined: {} };
 * droppedBy({ term: 1, epoch: 6, nodes: ["y"] }, "x", ring); // true
 * ```
 */
export function droppedBy(
  later: { term: number; epoch: number; nodes: readonly string[] },
  address: string,
  ring: RingView | undefined,
): boolean {
  return ring !== undefined && ring.nodes.includes(address) && !later.nodes.includes(address) &&
    ring.term === later.term && ring.epoch < later.epoch;
}

/** Whether `ring` is the same ring as `than` (term and epoch), as the master gave it later. */
function laterReport(ring: RingView, than: RingView): boolean {
  return ring.term === than.term && ring.epoch === than.epoch &&
    (ring.version ?? -1) > (than.version ?? -1);
}

/**
 * The milliseconds left of the handover of `address`, a node outside `view`'s ring, as the ring
 * gives it: marked down while leaving (`downWhileLeaving`), or leaving (`handoverLeftMs`);
 * undefined when it does not say (a ring of an older build, or a node neither).
 *
 * @example
 * ```ts
 * import { handoverLeftIn } from "./recovery.ts";
 * const view = { term: 1, epoch: 6, replicas: 1, nodes: [], joined: {},
 *   outside: { "http://x:1": "leaving" as const }, handoverLeftMs: { "http://x:1": 4000 } };
 * handoverLeftIn(view, "http://x:1"); // 4000
 * ```
 */
export function handoverLeftIn(view: RingView, address: string): number | undefined {
  const down = view.downWhileLeaving?.[address];
  if (down !== undefined) return down;
  return view.outside?.[address] === "leaving" ? view.handoverLeftMs?.[address] : undefined;
}
