// Calls from the master to one node: under a deadline, failures as 502/504, counted per node.

import type { CoalesceLimits } from "@cache/async/coalesce";
import { headerOf } from "@cache/http1/messages";
import type { Fetch } from "@cache/http1/fetch";
import type { RawAnswer } from "@cache/http1/messages";
import { callPeer, type PeerInit, peerResponse, PeerTimeout } from "@cache/http1/peer";
import { HttpError } from "@cache/protocol/errors";
import { NODE_TIME_HEADER, NodeClocks } from "@cache/protocol/node_clocks";
import { EPOCH_HEADER, MAX_BATCH, MAX_BATCH_BYTES } from "@cache/protocol/wire";
import { SENDER_RING_HEADER, senderRing } from "@cache/protocol/sender_ring";
import type { Metrics } from "@cache/service/metrics";
import type { Breakers } from "./breaker.ts";
import { parsed } from "./node_answers.ts";
import type { Placement } from "./placement.ts";

// Calls in flight to one node before reads (and, apart, writes) wait to go together in a batch.
const IN_FLIGHT = 1;

/** How the master calls its nodes, and where it counts what came of each call. */
export interface TransportOptions {
  /** Read on every request, so ring changes apply at once. */
  placement: Placement;
  fetch: Fetch;
  timeoutMs: number;
  /** Fails calls to a node fast while it keeps failing; none means every call is tried. */
  breakers?: Breakers;
  /** Where call durations and failures per node are counted. */
  metrics?: Metrics;
  /**
   * Whether the registry knows `node`: only those get series of their own, so that calls still
   * reaching a forgotten node (reads of keys moving off it) bring none back. Default: every node.
   */
  known?: (node: string) => boolean;
  /** Milliseconds since 1970, for the deadline a write carries; default `NodeClocks`' own. */
  now?: () => number;
  /** Called when a node answers with a newer ring epoch than the placement's. */
  onNewerEpoch?: () => void;
  /** Called with each node that answered a call: the master reached it (`Registry.reached`). */
  onAnswered?: (node: string) => void;
}

/**
 * Calls nodes: each call under the timeout, admitted by the node's breaker, its duration and any
 * failure counted per node. An unreachable node is HttpError 502, a timed-out one 504.
 */
export class Transport {
  readonly #options: TransportOptions;
  readonly #duration;
  readonly #failures;
  // Each node's duration series, looked up once: observed on every call.
  readonly #durations = new Map<string, { observe(seconds: number): void }>();
  // Each node's clock, from its answers: a write's deadline is given in it.
  readonly #clocks: NodeClocks;
  // The placement's ring when a node last answered with a newer epoch (see `behind`).
  #aheadOf: { term: number | undefined; epoch: number } | undefined;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#clocks = new NodeClocks(options.now);
    this.#duration = options.metrics?.histogram(
      "forwarded_request_duration_seconds",
      "Duration of calls from the master to a node, answered or not",
    );
    this.#failures = options.metrics?.counter(
      "forwarded_request_failures_total",
      "Calls to a node that failed: unreachable, timeout or breaker_open",
    );
  }

  /** Drops what is kept for `node`, a node the registry forgot: its metrics series among them. */
  forget(node: string): void {
    this.#durations.delete(node);
    this.#duration?.forget({ node });
    this.#failures?.forget({ node });
  }

  /** Milliseconds a call waits for its node's answer. */
  get timeoutMs(): number {
    return this.#options.timeoutMs;
  }

  /** Each node's clock as the master knows it, from its answers and its heartbeats. */
  get clocks(): NodeClocks {
    return this.#clocks;
  }

  /**
   * When a call to `node` made now stops being waited for, in milliseconds since 1970 on the
   * node's clock, as far as its answers told (see `NodeClocks`): the node checks it against its
   * own, however far from the master's. With `until` (a `performance.now()`: when whoever asked the
   * master stops waiting), no later than that.
   */
  deadline(node: string, until?: number): number {
    const now = this.#clocks.nowOn(node);
    const own = now + this.#options.timeoutMs;
    return until === undefined ? own : Math.min(own, now + Math.floor(until - performance.now()));
  }

  /**
   * The limits of a batch of calls to one node, each of `sizeOf`: one call in flight, batches no
   * node refuses for their size, and the breaker's weighing of a batch that failed.
   */
  batchLimits<T>(sizeOf: (input: T) => number): CoalesceLimits<T> {
    return {
      inFlight: IN_FLIGHT,
      maxItems: MAX_BATCH,
      maxSize: MAX_BATCH_BYTES,
      sizeOf,
      failsWaiting: (node, error, sent, waiting) => this.#failsWaiting(node, error, sent, waiting),
    };
  }

  /**
   * Sends `init` to `path` on `node` and returns its answer, whatever its status. Throws HttpError
   * 502 when the node cannot be reached, 504 when it does not answer within the timeout.
   */
  async send(node: string, path: string, init: PeerInit = {}, mustTry = false): Promise<Response> {
    return peerResponse(await this.exchange(node, path, init, mustTry));
  }

  /** Sends JSON `body` to `path` on `node`; returns the parsed answer, throwing HttpError for any
   * failure, a node's own error status and message included. */
  async call(node: string, path: string, body: unknown): Promise<unknown> {
    const answer = await this.exchange(node, path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [EPOCH_HEADER]: String(this.#options.placement.epoch),
      },
      body: JSON.stringify(body),
    });
    return parsed(node, answer);
  }

  /**
   * Posts `entries` to `node`'s `/replicate` (read repair), naming `ring`, the ring that chose the
   * node, so that a node on another ring sends on or keeps them as it would a peer's (see
   * `Strays`).
   */
  async replicate(node: string, entries: unknown[], ring: PlacedBy): Promise<unknown> {
    const { epoch, term } = ring;
    const answer = await this.exchange(node, "/replicate", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [EPOCH_HEADER]: String(epoch),
        ...(term === undefined ? {} : { [SENDER_RING_HEADER]: senderRing({ term, epoch }) }),
      },
      body: JSON.stringify({ entries }),
    });
    return parsed(node, answer);
  }

  /**
   * GETs `path` on `node` and returns the parsed answer; throws HttpError on any failure. With
   * `ring`, the read names its epoch: a node behind it (asked for a key's state, `/replica`) takes
   * that ring first, and from then on no write by its older one.
   */
  async read(node: string, path: string, ring?: PlacedBy): Promise<unknown> {
    const init = ring ? { headers: { [EPOCH_HEADER]: String(ring.epoch) } } : {};
    return parsed(node, await this.exchange(node, path, init));
  }

  /** Whether `node`'s breaker is closed: calls go to it as usual, none failing fast. */
  closed(node: string): boolean {
    return (this.#options.breakers?.state(node) ?? "closed") === "closed";
  }

  /**
   * {@link send}, for one call or one batch, with the answer as it came: either way, one call
   * made, which the breaker and the metrics count once. `mustTry` sends it through an open
   * breaker too.
   */
  async exchange(
    node: string,
    path: string,
    init: PeerInit,
    mustTry = false,
  ): Promise<RawAnswer> {
    const { timeoutMs, breakers } = this.#options;
    try {
      if (!mustTry) breakers?.admit(node);
    } catch (error) {
      this.#failed(node, "breaker_open");
      throw error;
    }
    const started = performance.now();
    const sentAt = this.#clocks.now();
    let answer: RawAnswer;
    try {
      answer = await callPeer(this.#options.fetch, node, path, init, timeoutMs);
    } catch (error) {
      breakers?.failed(node); // a batch's other calls are weighed in #failsWaiting
      this.#failed(node, timedOut(error) ? "timeout" : "unreachable");
      throw error;
    } finally {
      this.#timing(node)?.observe((performance.now() - started) / 1000);
    }
    breakers?.succeeded(node);
    this.#options.onAnswered?.(node);
    this.#clocks.observe(node, headerOf(answer, NODE_TIME_HEADER), sentAt, this.#clocks.now());
    const epoch = headerOf(answer, EPOCH_HEADER);
    const { placement } = this.#options;
    if (epoch !== null && Number(epoch) > placement.epoch) {
      this.#aheadOf = { term: placement.term, epoch: placement.epoch };
      this.#options.onNewerEpoch?.();
    }
    return answer;
  }

  /**
   * Whether a node answered with a newer ring epoch than the placement's, which has not changed
   * since: this master's ring is behind the nodes' (a follower cut off from its leader), and a key
   * its owners by this ring miss may be held by the owners of the newer one.
   */
  get behind(): boolean {
    const { placement } = this.#options;
    const ahead = this.#aheadOf;
    return ahead !== undefined && ahead.epoch === placement.epoch && ahead.term === placement.term;
  }

  /**
   * The breaker's weighing of a failed batch of `sent` calls (the call itself counted once in
   * {@link exchange}). A batch that timed out stands for calls that would each have waited as
   * long, and fails the `waiting` calls behind it too, so the breaker counts every one of them, as
   * it would have unbatched; the failures metric counts calls made. A refused or reset connection
   * is one failure, however many calls it carried, and the calls waiting are still sent. Returns
   * the error the unsent calls fail with.
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

  #failed(node: string, reason: string): void {
    if (this.#options.known?.(node) ?? true) this.#failures?.inc({ node, reason });
  }

  #timing(node: string): { observe(seconds: number): void } | undefined {
    let series = this.#durations.get(node);
    if (!series && this.#duration && (this.#options.known?.(node) ?? true)) {
      series = this.#duration.with({ node });
      this.#durations.set(node, series);
    }
    return series;
  }
}

/** The ring a master placed a key by: its epoch, and its term when the master knows it. */
export interface PlacedBy {
  epoch: number;
  term?: number;
}

/**
 * A node that did not answer in time: calls queued behind the one that waited fail with it. Not
 * a node's own 504 (a write it refused as come past its sender's deadline, say): it answered.
 */
const timedOut = (error: unknown) => error instanceof PeerTimeout;
