// A node's part in replication: refuse writes it is not the primary of, copy writes to backups.

import { HttpError } from "../shared/errors.ts";
import { callPeer } from "../shared/peer.ts";
import type { Fetch } from "../shared/fetch.ts";
import type { Ring } from "../shared/ring.ts";
import type { RingView } from "../shared/wire.ts";
import type { Replica } from "./store.ts";

/** The ring as this node knows it, and how to catch up with the master's. */
export interface RingSource {
  view: RingView | undefined;
  ring: Ring;
  /** Fetches the master's ring now. */
  refresh(): Promise<boolean>;
}

/** Who this node is, where the ring comes from, and how it calls peers. */
export interface ClusterOptions {
  self: string;
  ring: RingSource;
  fetch: Fetch;
  timeoutMs: number;
}

/**
 * Placement checks and replication for one node. With no ring yet (a node on its own, or one
 * started before its master), the node accepts every write and has no backups.
 */
export class Cluster {
  readonly #options: ClusterOptions;

  constructor(options: ClusterOptions) {
    this.#options = options;
  }

  /**
   * Makes sure this node may write `keys` as their primary. A request routed with a newer epoch
   * than this node knows makes it fetch the ring first; one routed with an older epoch, or for a
   * key this node is not the primary of, is refused with 421 carrying this node's epoch and the
   * owner, so the sender refreshes its ring. Never forwards.
   */
  async checkPrimary(keys: string[], routedEpoch?: number): Promise<void> {
    const { ring, self } = this.#options;
    if (routedEpoch !== undefined && routedEpoch > (ring.view?.epoch ?? -1)) await ring.refresh();
    const view = ring.view;
    if (!view || view.nodes.length === 0) return;
    if (routedEpoch !== undefined && routedEpoch < view.epoch) {
      throw new MisdirectedError(
        `Routed with ring epoch ${routedEpoch}; this node knows ${view.epoch}`,
        view.epoch,
      );
    }
    for (const key of keys) {
      const owner = ring.ring.owner(key);
      if (owner !== self) {
        throw new MisdirectedError(
          `Node ${self} is not the primary of key "${key}"`,
          view.epoch,
          owner,
        );
      }
    }
  }

  /** The backups of `key` in the current ring: its owners after the primary. */
  backups(key: string): string[] {
    const view = this.#options.ring.view;
    if (!view) return [];
    return this.#options.ring.ring.owners(key, view.replicas).filter((o) =>
      o !== this.#options.self
    );
  }

  /**
   * Sends `replicas` to each key's backups, in parallel, one request per backup; resolves once
   * every backup has them. Throws HttpError 502/504 naming each backup that failed, with the keys
   * some backup did not take as `unreplicated`: the others are on all their owners.
   */
  async replicate(replicas: Replica[]): Promise<void> {
    const batches = new Map<string, Replica[]>();
    for (const replica of replicas) {
      for (const backup of this.backups(replica.key)) {
        const batch = batches.get(backup) ?? [];
        batch.push(replica);
        batches.set(backup, batch);
      }
    }
    const sends = [...batches];
    const results = await Promise.allSettled(
      sends.map(([backup, batch]) => this.send(backup, batch)),
    );
    const failed: HttpError[] = [];
    const unreplicated = new Set<string>();
    results.forEach((result, i) => {
      if (result.status === "fulfilled") return;
      failed.push(result.reason as HttpError);
      for (const replica of sends[i][1]) unreplicated.add(replica.key);
    });
    if (failed.length === 0) return;
    throw new HttpError(
      failed.some((f) => f.status === 504) ? 504 : 502,
      `Stored on the primary, but ${failed.length} of ${batches.size} backups did not take it: ` +
        failed.map((f) => f.message).join("; "),
      { unreplicated: [...unreplicated] },
    );
  }

  /** Posts `replicas` to `node`'s `/replicate`; throws HttpError 502 or 504 when it fails. */
  async send(node: string, replicas: Replica[]): Promise<void> {
    const answer = await callPeer(this.#options.fetch, node, "/replicate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ entries: replicas }),
    }, this.#options.timeoutMs);
    if (answer.status >= 300) {
      const text = new TextDecoder().decode(answer.body);
      throw new HttpError(502, `Node ${node} answered ${answer.status}: ${text}`);
    }
  }
}

/** A write sent to a node that is not the key's primary in the ring it knows (HTTP 421). */
export class MisdirectedError extends HttpError {
  /** The body carries this node's `epoch` and, when known, the key's `owner`. */
  constructor(message: string, epoch: number, owner?: string) {
    super(421, message, { epoch, ...(owner ? { owner } : {}) });
    this.name = "MisdirectedError";
  }
}
