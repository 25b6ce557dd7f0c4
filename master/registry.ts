// Membership: which nodes are registered, which are up, and the ring and epoch of the up set.

import type { Logger } from "../shared/log.ts";
import { Ring } from "../shared/ring.ts";
import type { NodeList, RingView } from "../shared/wire.ts";

/** How the registry decides a node is down, and how it builds rings. */
export interface RegistryOptions {
  vnodes: number;
  /** A node with no heartbeat for this long is marked down by {@link Registry.sweep}. */
  failureTimeoutMs: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  log: Logger;
}

interface Member {
  status: "up" | "down";
  lastSeenMs: number;
}

/**
 * The master's view of the cluster. Every change of the set of up nodes increments the epoch and
 * rebuilds the ring from the up nodes.
 */
export class Registry {
  readonly #options: RegistryOptions;
  readonly #members = new Map<string, Member>();
  #epoch = 0;
  #ring: Ring;

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#ring = new Ring([], { vnodes: options.vnodes });
  }

  /** The ring of the up nodes in the current epoch. */
  get ring(): Ring {
    return this.#ring;
  }

  /** Counts changes of the up set. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Records a registration or heartbeat from `address`; returns `"new"` when the node was unknown,
   * `"known"` otherwise. A down node that beats is up again.
   */
  heartbeat(address: string): "new" | "known" {
    const now = this.#options.now();
    const member = this.#members.get(address);
    if (!member) {
      this.#members.set(address, { status: "up", lastSeenMs: now });
      this.#changed("node registered", address);
      return "new";
    }
    member.lastSeenMs = now;
    if (member.status === "down") {
      member.status = "up";
      this.#changed("node back up", address);
    }
    return "known";
  }

  /** Forgets `address`; returns whether it was known. */
  deregister(address: string): boolean {
    const member = this.#members.get(address);
    if (!member) return false;
    this.#members.delete(address);
    if (member.status === "up") this.#changed("node deregistered", address);
    else this.#options.log.info("node deregistered", { address, epoch: this.#epoch });
    return true;
  }

  /** Marks down every up node whose last heartbeat is older than the failure timeout. */
  sweep(): void {
    const deadline = this.#options.now() - this.#options.failureTimeoutMs;
    for (const [address, member] of this.#members) {
      if (member.status === "up" && member.lastSeenMs <= deadline) {
        member.status = "down";
        this.#changed("node down", address);
      }
    }
  }

  /** The ring as published to nodes and clients. */
  view(): RingView {
    return { epoch: this.#epoch, vnodes: this.#ring.vnodes, nodes: [...this.#ring.nodes] };
  }

  /** Every known node, up or down, sorted by address. */
  list(): NodeList {
    const nodes = [...this.#members].sort(([a], [b]) => a < b ? -1 : 1).map(([address, m]) => ({
      address,
      status: m.status,
      lastSeen: new Date(m.lastSeenMs).toISOString(),
    }));
    return { epoch: this.#epoch, nodes };
  }

  #changed(event: string, address: string): void {
    const up = [...this.#members].filter(([, m]) => m.status === "up").map(([a]) => a);
    this.#ring = new Ring(up, { vnodes: this.#options.vnodes });
    this.#epoch++;
    this.#options.log.info(event, { address, epoch: this.#epoch, up: up.length });
  }
}
