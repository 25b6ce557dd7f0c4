// Forwards requests to the nodes that own their keys, mapping peer failures to 502/503/504.

import { madeOf } from "../../shared/http1/answer.ts";
import { Coalescer } from "../../shared/async/coalesce.ts";
import { HttpError } from "../../shared/protocol/errors.ts";
import type { Fetch } from "../../shared/http1/fetch.ts";
import { groupBy } from "../../shared/async/group.ts";
import { keySegment } from "../../shared/protocol/key_path.ts";
import { keyNotFound } from "../../shared/protocol/key_routes.ts";
import type { Metrics } from "../../shared/service/metrics.ts";
import { headerOf } from "../../shared/http1/client.ts";
import { callPeer, type PeerAnswer, type PeerInit, peerResponse } from "../../shared/http1/peer.ts";
import type { Ring } from "../../shared/ring/ring.ts";
import {
  DEADLINE_HEADER,
  EPOCH_HEADER,
  keyBytes,
  LINES_TYPE,
  MAX_BATCH,
  MAX_BATCH_BYTES,
} from "../../shared/protocol/wire.ts";
import { newer, type Replica } from "../../shared/protocol/replica.ts";
import type { Breakers } from "./breaker.ts";
import { foundItems, foundLines, ok, parsed, unreplicatedKeys } from "./node_answers.ts";

// Calls in flight to one node before reads (and, apart, writes) wait to go together in a batch.
const IN_FLIGHT = 1;
const JSON_TYPE = { "content-type": "application/json" };

/** A write waiting to go to its primary: its key, body as the client sent it, and ring epoch. */
interface Write {
  key: string;
  body: string;
  epoch: number;
}

/** Where keys live: the current ring and, while keys move, the rings they are moving from. */
export interface Placement {
  readonly ring: Ring;
  readonly epoch: number;
  /** Copies of each key: owners(key, replicas) are its primary, then its backups. */
  readonly replicas: number;
  /** Rings of earlier epochs whose keys may not have reached their new owners, newest first. */
  readonly unsettledRings: readonly Ring[];
  /** Whether the master is still learning the last ring from its nodes. */
  readonly recovering?: boolean;
}

/** Where the router finds owners and how it calls them. */
export interface RouterOptions {
  /** Read on every request, so ring changes apply at once. */
  placement: Placement;
  fetch: Fetch;
  timeoutMs: number;
  /** Fails calls to a node fast while it keeps failing; none means every call is tried. */
  breakers?: Breakers;
  /** Where call durations and failures per node are counted. */
  metrics?: Metrics;
  /** Milliseconds since 1970, for the deadline a write carries; default `Date.now`. */
  now?: () => number;
  /** Called when a node answers with a newer ring epoch than the placement's. */
  onNewerEpoch?: () => void;
  /**
   * Resolves once the placement has caught up with a newer ring, or gave up waiting. With it, a
   * write a node refuses with 421 (routed with an older ring) is sent once more after it.
   */
  catchUp?: () => Promise<void>;
}

/** Sends requests to nodes: to a key's owner on the ring, or to a given node. */
export class Router {
  readonly #options: RouterOptions;
  readonly #duration;
  readonly #failures;
  // Each node's duration series, looked up once: observed on every call.
  readonly #durations = new Map<string, { observe(seconds: number): void }>();
  readonly #reads = new Coalescer<string, Response>(
    (node, keys) => this.#readBatch(node, keys),
    {
      inFlight: IN_FLIGHT,
      maxItems: MAX_BATCH,
      maxSize: MAX_BATCH_BYTES,
      sizeOf: keyBytes,
      failsWaiting: (node, error, sent, waiting) => this.#failsWaiting(node, error, sent, waiting),
    },
  );
  readonly #writes = new Coalescer<Write, Response>(
    (node, writes) => this.#writeBatch(node, writes),
    {
      inFlight: IN_FLIGHT,
      maxItems: MAX_BATCH,
      maxSize: MAX_BATCH_BYTES,
      // A UTF-16 unit is at most 3 UTF-8 bytes; a backup's copy adds a version (and ttlMs).
      sizeOf: (write) => write.body.length * 3 + 64,
      failsWaiting: (node, error, sent, waiting) => this.#failsWaiting(node, error, sent, waiting),
    },
  );

  constructor(options: RouterOptions) {
    this.#options = options;
    this.#duration = options.metrics?.histogram(
      "forwarded_request_duration_seconds",
      "Duration of calls from the master to a node, answered or not",
    );
    this.#failures = options.metrics?.counter(
      "forwarded_request_failures_total",
      "Calls to a node that failed: unreachable, timeout or breaker_open",
    );
  }

  /** Whether keys may still be moving to the owners of the current ring. */
  get moving(): boolean {
    return this.#options.placement.unsettledRings.length > 0;
  }

  /** The owner of `key`; throws HttpError 503 when no node is up. */
  owner(key: string): string {
    const owner = this.#options.placement.ring.owner(key);
    if (owner === undefined) throw this.#noOwner();
    return owner;
  }

  #noOwner(): HttpError {
    return this.#options.placement.recovering
      ? new HttpError(503, "The master is learning the last ring from its nodes: try again shortly")
      : new HttpError(503, "No node is up to own the key");
  }

  /** The headers of a write routed now: the ring epoch, and when the master stops waiting. */
  #routing(epoch: number): Record<string, string> {
    const deadline = (this.#options.now?.() ?? Date.now()) + this.#options.timeoutMs;
    return { [EPOCH_HEADER]: String(epoch), [DEADLINE_HEADER]: String(deadline) };
  }

  /** Groups `keys` by owner, keeping their order within each group. */
  group<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
    return groupBy(items, (item) => this.owner(keyOf(item)));
  }

  /**
   * Deletes `key` on its primary, stamped with the ring epoch it was routed in; see {@link send}.
   * Writes are not retried, the primary answers for its backups, except one a node refused with
   * 421 when {@link RouterOptions.catchUp} brought a newer ring.
   */
  async delete(key: string): Promise<Response> {
    return await this.#resendingMisdirected(() =>
      this.send(this.owner(key), keyPath(key), {
        method: "DELETE",
        headers: this.#routing(this.#options.placement.epoch),
      })
    );
  }

  /**
   * Stores `key` on its primary with `body`, a valid `KeyValue` as JSON, sent on as it is. Writes
   * to a node already busy with earlier ones wait and go together as one `POST /mset`; each gets
   * the answer its own `POST /keys` would have had (see {@link #writeBatch}).
   */
  async set(key: string, body: string): Promise<Response> {
    return await this.#resendingMisdirected(() => {
      const { epoch } = this.#options.placement;
      return this.#writes.submit(this.owner(key), { key, body, epoch });
    });
  }

  async #resendingMisdirected(attempt: () => Promise<Response>): Promise<Response> {
    const answer = await attempt();
    const { catchUp } = this.#options;
    if (answer.status !== 421 || !catchUp) return answer;
    await catchUp(); // a follower behind the leader's ring: a 421 refused the write, so resend it
    return await attempt();
  }

  /**
   * Reads `key` from its primary; when the primary cannot answer for it (unreachable, slow, its
   * breaker open, or its own 5xx), from its backups in turn. Once keys have settled, an owner's
   * miss is final: every owner holds every key it owns. While keys move, a miss is only a key
   * maybe on its way: see {@link #readMoving}. `failed`, a node that just failed to answer for the
   * key, is not asked. A miss is never answered for an owner that could not be asked: that is the
   * owner's error (502, 503 or 504).
   */
  async get(key: string, failed?: string): Promise<Response> {
    const { placement } = this.#options;
    const owners = placement.ring.owners(key, placement.replicas);
    if (owners.length === 0) throw this.#noOwner();
    const moving = placement.unsettledRings;
    let failure: unknown;
    const missing: string[] = []; // owners that answered 404
    for (const node of owners) {
      if (node === failed) continue;
      let answer: Response;
      try {
        answer = await this.#reads.submit(node, key);
      } catch (error) {
        failure = error;
        continue;
      }
      if (answer.status >= 500) {
        failure = new HttpError(answer.status as 502, await errorOf(node, answer));
        continue;
      }
      if (answer.status !== 404) {
        if (answer.ok) { for (const owner of missing) this.#repair(key, node, owner); }
        return answer;
      }
      if (moving.length === 0) return answer; // settled: this owner would hold the key
      missing.push(node);
    }
    if (moving.length > 0 && missing.length > 0) {
      return await this.#readMoving(key, owners, moving, failed);
    }
    throw failure ?? new HttpError(502, `No node but ${failed} owns the key`);
  }

  /**
   * A read while keys move, after an owner missed: the versioned state of the key on every owner,
   * in this ring and in the rings it is moving from, the newest (by epoch, then version) winning;
   * a deletion is a miss. Found on no one it is a miss only if everyone answered; else the error
   * of one that did not. Owners that lack the newest value get it (read repair).
   */
  async #readMoving(
    key: string,
    owners: string[],
    moving: readonly Ring[],
    failed: string | undefined,
  ): Promise<Response> {
    const { replicas } = this.#options.placement;
    const candidates = [...owners];
    for (const ring of moving) {
      for (const node of ring.owners(key, replicas)) {
        if (!candidates.includes(node)) candidates.push(node);
      }
    }
    const asked = candidates.filter((node) => node !== failed);
    const path = `/replica/${keySegment(key)}`;
    const states = await Promise.allSettled(asked.map((node) => this.read(node, path)));
    let newest: { node: string; replica: Replica } | undefined;
    let failure: unknown = failed
      ? new HttpError(502, `Node ${failed} failed to answer`)
      : undefined;
    const held = new Map<string, Replica>();
    const answered = new Set<string>(); // with a 404: neither the key nor its deletion
    states.forEach((state, i) => {
      if (state.status === "rejected") {
        if (state.reason instanceof HttpError && state.reason.status === 404) {
          answered.add(asked[i]);
        } else failure = state.reason;
        return;
      }
      const replica = state.value as Replica;
      held.set(asked[i], replica);
      if (!newest || newer(replica, newest.replica)) newest = { node: asked[i], replica };
    });
    // Every write acknowledged in this ring is on all its owners: one of them must have answered.
    if (!owners.some((owner) => held.has(owner) || answered.has(owner))) {
      throw failure ?? new HttpError(502, "No owner of the key answered");
    }
    if (!newest) {
      if (failure) throw failure;
      return notFound(key);
    }
    for (const owner of owners) {
      const mine = held.get(owner);
      if (owner !== failed && (!mine || newer(newest.replica, mine))) {
        this.call(owner, "/replicate", { entries: [newest.replica] }).catch(() => {});
      }
    }
    const { value, ttlMs, deleted } = newest.replica;
    if (deleted || value === undefined) return notFound(key);
    const item = ttlMs === undefined ? { key, value } : { key, value, ttl: ttlMs / 1000 };
    return Response.json(item);
  }

  /**
   * Reads `keys` on `node`: alone as `GET /keys/{key}`, together as one `POST /mget` whose lines
   * (or, from a node that answers JSON, items) become the answers the single reads would have had.
   * A batch the node refuses (4xx) is read again key by key; a 5xx is every read's answer.
   */
  async #readBatch(node: string, keys: string[]): Promise<(Response | Promise<Response>)[]> {
    if (keys.length === 1) return [await this.send(node, keyPath(keys[0]))];
    const asked = [...new Set(keys)];
    const init = { method: "POST", headers: MGET_HEADERS, body: JSON.stringify({ keys: asked }) };
    const answer = await this.#send(node, "/mget", init);
    // The node's own trouble: each read gets it, as it would alone.
    if (answer.status >= 500) return keys.map(() => peerResponse(answer));
    // Refused: alone, each read gets its own answer (a key no path can carry throws, alone).
    if (!ok(answer)) return keys.map(async (key) => await this.send(node, keyPath(key)));
    const found = headerOf(answer, "content-type") === LINES_TYPE
      ? foundLines(node, answer, asked)
      : foundItems(node, answer);
    return keys.map((key) => {
      const body = found.get(key);
      if (!body) return notFound(key);
      const answer = { status: 200, contentType: "application/json", body };
      return madeOf(new Response(body, { headers: JSON_TYPE }), answer);
    });
  }

  /**
   * Sends `writes` to their primary `node`: alone as `POST /keys`, together as one `POST /mset`.
   * A batch the node refuses wrote nothing (a 4xx, or 507 for a full store), so each write is sent
   * again alone for its own answer. Any other error came after the primary stored the batch: the
   * writes of the keys it names as `unreplicated` (a backup did not take them) get that answer, the
   * others 204, as each alone would have had; without that list, every write gets the answer.
   */
  async #writeBatch(node: string, writes: Write[]): Promise<(Response | Promise<Response>)[]> {
    const alone = (write: Write) =>
      this.send(node, "/keys", {
        method: "POST",
        headers: { ...JSON_TYPE, ...this.#routing(write.epoch) },
        body: write.body,
      });
    if (writes.length === 1) return [await alone(writes[0])];
    const { epoch } = writes[0];
    // A ring change while they waited: one epoch per call, so these go alone.
    if (writes.some((write) => write.epoch !== epoch)) return writes.map(alone);
    const answer = await this.#send(node, "/mset", {
      method: "POST",
      headers: { ...JSON_TYPE, ...this.#routing(epoch) },
      body: `{"items":[${writes.map((write) => write.body).join(",")}]}`,
    });
    const stored = () => new Response(null, { status: 204 });
    if (ok(answer)) return writes.map(stored);
    if (answer.status < 500 || answer.status === 507) return writes.map(alone);
    const failed = (): Response => peerResponse(answer);
    // The node names the keys some backup did not take; the others are on all their owners.
    const unreplicated = unreplicatedKeys(answer);
    if (!unreplicated) return writes.map(failed);
    return writes.map((write) => unreplicated.has(write.key) ? failed() : stored());
  }

  /** Copies `key`'s versioned state from `from` to `to`, in the background. */
  #repair(key: string, from: string, to: string): void {
    const path = `/replica/${keySegment(key)}`;
    this.read(from, path)
      .then((replica) => this.call(to, "/replicate", { entries: [replica] }))
      .catch(() => {}); // best effort: the nodes' own key moves get there too
  }

  /**
   * Sends `init` to `path` on `node` and returns its answer, whatever its status. Throws HttpError
   * 502 when the node cannot be reached, 504 when it does not answer within the timeout.
   */
  async send(node: string, path: string, init: PeerInit = {}): Promise<Response> {
    return peerResponse(await this.#send(node, path, init));
  }

  /**
   * The breaker's weighing of a failed batch of `sent` calls (the call itself counted once in
   * {@link #send}). A batch that timed out stands for calls that would each have waited as long,
   * and fails the `waiting` calls behind it too, so the breaker counts every one of them, as it
   * would have unbatched; the failures metric counts calls made. A refused or reset connection is
   * one failure, however many calls it carried, and the calls waiting are still sent. Returns the
   * error the unsent calls fail with.
   */
  #failsWaiting(
    node: string,
    error: unknown,
    sent: number,
    waiting: number,
  ): HttpError | undefined {
    if (!timedOut(error)) return undefined;
    const others = sent - 1 + waiting;
    if (others > 0) this.#options.breakers?.failed(node, others);
    return new HttpError(
      504,
      `Node ${node} did not answer an earlier call within ${this.#options.timeoutMs} ms; ` +
        "this one was not sent",
    );
  }

  /**
   * {@link send}, for one call or one batch, with the answer as it came: either way, one call
   * made, which the breaker and the metrics count once.
   */
  async #send(node: string, path: string, init: PeerInit): Promise<PeerAnswer> {
    const { timeoutMs, breakers } = this.#options;
    try {
      breakers?.admit(node);
    } catch (error) {
      this.#failures?.inc({ node, reason: "breaker_open" });
      throw error;
    }
    const started = performance.now();
    let answer: PeerAnswer;
    try {
      answer = await callPeer(this.#options.fetch, node, path, init, timeoutMs);
    } catch (error) {
      breakers?.failed(node); // a batch's other calls are weighed in #failsWaiting
      this.#failures?.inc({ node, reason: timedOut(error) ? "timeout" : "unreachable" });
      throw error;
    } finally {
      this.#timing(node)?.observe((performance.now() - started) / 1000);
    }
    breakers?.succeeded(node);
    const epoch = headerOf(answer, EPOCH_HEADER);
    if (epoch !== null && Number(epoch) > this.#options.placement.epoch) {
      this.#options.onNewerEpoch?.();
    }
    return answer;
  }

  #timing(node: string): { observe(seconds: number): void } | undefined {
    let series = this.#durations.get(node);
    if (!series && this.#duration) {
      series = this.#duration.with({ node });
      this.#durations.set(node, series);
    }
    return series;
  }

  /** Sends JSON `body` to `path` on `node`; returns the parsed answer, throwing HttpError for any
   * failure, a node's own error status and message included. */
  async call(node: string, path: string, body: unknown): Promise<unknown> {
    const answer = await this.#send(node, path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [EPOCH_HEADER]: String(this.#options.placement.epoch),
      },
      body: JSON.stringify(body),
    });
    return parsed(node, answer);
  }

  /** GETs `path` on `node` and returns the parsed answer; throws HttpError on any failure. */
  async read(node: string, path: string): Promise<unknown> {
    return parsed(node, await this.#send(node, path, {}));
  }
}

/** A node that did not answer in time: calls queued behind the one that waited fail with it. */
const timedOut = (error: unknown) => error instanceof HttpError && error.status === 504;

const keyPath = (key: string) => `/keys/${keySegment(key)}`;

// A batch of reads asks for the node's lines, passed on with nothing parsed; an older node's JSON
// answer is read too.
const MGET_HEADERS = { ...JSON_TYPE, accept: `${LINES_TYPE}, application/json` };

function notFound(key: string): Response {
  const body = JSON.stringify(keyNotFound(key));
  const answer = { status: 404, contentType: "application/json", body };
  return madeOf(new Response(body, { status: 404, headers: JSON_TYPE }), answer);
}

/** A node's error answer as a message naming the node. */
async function errorOf(node: string, answer: Response): Promise<string> {
  const body = await answer.json().catch(() => undefined) as { error?: string } | undefined;
  return `Node ${node}: ${body?.error ?? `answered ${answer.status}`}`;
}
