// Where the client's requests go: to each key's primary by the ring the master publishes, or
// through a master, with the ring read again when a node redirects or fails.

import {
  CacheError,
  Caller,
  type CallInit,
  expected,
  isRead,
  mayHaveApplied,
  Refused,
  retries,
  StaleRing,
  unreached,
  UnreadableAnswer,
} from "./call.ts";
import type { ClientOptions } from "./options.ts";
import { groupBy } from "@cache/async/group";
import { Ring } from "@cache/ring/ring";
import { untilAborted } from "@cache/http1/deadline";
import { NodeClocks } from "@cache/protocol/node_clocks";
import { DEADLINE_HEADER, EPOCH_HEADER, newerRing, RingView } from "@cache/protocol/wire";
import { epochOf } from "@cache/protocol/versions";

/** How {@link Router.route} sends one request. */
export interface RouteOptions {
  /** Cancels the request. */
  signal?: AbortSignal;
  /** A read: a miss while keys move, or a hit that may be behind, is asked of the master. */
  read?: boolean;
  /** Calls to the key's primary before the master; default 2. */
  attempts?: number;
  /**
   * Whether a failure is worth another try by a newer ring; default {@link retries}: a redirect,
   * or a node unreached or failing.
   */
  retryable?: (error: CacheError) => boolean;
  /**
   * What to send in place of `init` once an attempt failed in a way that may have applied it (see
   * `mayHaveApplied`): an increment marked as sent again.
   */
  again?: CallInit;
  /** Called when `again` takes the place of `init`. */
  onAgain?: () => void;
}

/** The router's settings: the client's, with the defaults filled in, and a clock for tests. */
export type RouterOptions = Required<Pick<ClientOptions, "mode" | "timeoutMs">> & ClientOptions & {
  /** Milliseconds, for how long ago the ring was read; default `performance.now()`. */
  now?: () => number;
};

/** A master that answered without its clock is asked for it again this long after, at least. */
const NO_CLOCK_ASK_AGAIN_MS = 60_000;

/** While keys move, the ring is read again at most this often: see {@link Router.keysMoving}. */
export const MOVING_RING_READ_MS = 1000;

/** The content type of every body the client sends. */
const JSON_TYPE = { "content-type": "application/json" };

/**
 * Routes the client's calls. In `direct` mode a call for a key goes to its primary in the ring the
 * master publishes, stamped with that ring's epoch; on a redirect (421) or a node that fails, the
 * ring is read again and the call sent once more, then through the master. In `proxy` mode every
 * call goes through the master. Of several masters, the one that answered last is called, and the
 * next ones while it refuses connections.
 *
 * @example
 * ```ts
 * import { Router } from "./router.ts";
 * const router = new Router(["http://127.0.0.1:8080"], { mode: "direct", timeoutMs: 5000 });
 * await router.refresh();
 * await router.route("user:42", "/keys/user%3A42", {}); // { key, value, version }
 * router.close();
 * ```
 */
export class Router {
  readonly #masters: string[];
  #current = 0; // the master answering lately
  readonly #options: RouterOptions;
  readonly #caller: Caller;
  // Each node's clock, from its answers: a write's deadline is given in it.
  readonly #clocks = new NodeClocks();
  #view: RingView | undefined;
  #ring = new Ring();
  #refreshing: Promise<void> | undefined;
  #readAt = -Infinity; // when the ring was last asked for
  // Masters whose clock is being asked for before a write goes through them (see #deadlined).
  readonly #askingClock = new Map<string, Promise<void>>();
  // Masters that answered without their clock, and when (see #askClock).
  readonly #noClock = new Map<string, number>();

  constructor(masters: string[], options: RouterOptions) {
    if (masters.length === 0) throw new TypeError("CacheClient needs a master URL");
    this.#masters = masters;
    this.#options = options;
    this.#caller = new Caller({ ...options, clocks: this.#clocks });
  }

  /** Whether calls for a key go to its primary (`direct` mode). */
  get direct(): boolean {
    return this.#options.mode === "direct";
  }

  /** The ring calls are routed by, as the master last published it (direct mode). */
  get view(): RingView | undefined {
    return this.#view;
  }

  /** The primary of `key` in direct mode; undefined in proxy mode or with no node on the ring. */
  owner(key: string): string | undefined {
    return this.direct ? this.#ring.owner(key) : undefined;
  }

  /** Every owner of `key` in direct mode, its primary first; none in proxy mode. */
  owners(key: string): string[] {
    return this.direct && this.#view ? this.#ring.owners(key, this.#view.replicas) : [];
  }

  /** Reads the master's ring again; an answer older than the ring held is dropped. */
  async refresh(signal?: AbortSignal): Promise<void> {
    this.#readAt = this.#now();
    const view = expected(RingView, await this.viaMaster("/ring", {}, signal), "GET /ring");
    if (this.#view && newerRing(this.#view, view)) return; // a late answer: keep the newer ring
    let ring: Ring;
    try {
      ring = new Ring(view.nodes);
    } catch (error) {
      throw new UnreadableAnswer(`GET /ring answered a ring no client can build: ${error}`);
    }
    this.#view = view;
    this.#ring = ring;
  }

  /**
   * Whether keys may still be moving by the ring held, as the master said when it was read: a
   * miss is then asked of the master, which looks where keys were. While it says so, the ring is
   * read again in the background, at most once every {@link MOVING_RING_READ_MS}: nothing else
   * reads it once calls stop failing, and every miss went on to the master for good.
   */
  keysMoving(): boolean {
    if (this.#view?.settled !== false) return false;
    if (this.#now() - this.#readAt >= MOVING_RING_READ_MS) void this.refreshOnce();
    return true;
  }

  /**
   * Whether `answer`, a node's hit, may be older than a copy of its key still on its way, so the
   * master is to be asked: keys move through two ring changes or more by the ring held, and it
   * was written before that ring. An owner whose handover one change cut short may own the key
   * again, holding a state older than a write made in between; the master's reads compare every
   * ring's owners. Through one change, an owner holds a key of an earlier ring only if no one
   * wrote it since.
   */
  mayBeBehind(answer: unknown): boolean {
    const view = this.#view;
    if (view?.settled !== false || (view.movingRings ?? 0) < 2 || !this.keysMoving()) return false;
    const version = (answer as { version?: unknown } | null)?.version;
    return typeof version === "string" && epochOf(version) < view.epoch;
  }

  /** {@link refresh}, shared by the calls that failed together: one ring fetch, not one each. */
  refreshOnce(): Promise<void> {
    this.#refreshing ??= this.refresh().catch(() => {}).finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  /**
   * The ring read again after a call failed in a way a newer ring may route around: shared with
   * the calls that failed together, or under `signal` for a call that has its own.
   */
  async refreshAfterFailure(signal?: AbortSignal): Promise<void> {
    await (signal ? this.refresh(signal).catch(() => {}) : this.refreshOnce());
  }

  /** Items grouped by the node that owns their key; one group for the master in proxy mode. */
  groups<T>(items: T[], keyOf: (item: T) => string): Map<string | undefined, T[]> {
    return groupBy(items, (item) => this.owner(keyOf(item)));
  }

  /** Posts a batch to `owner` (or the master), with the same retries as a single key. */
  async batch(
    owner: string | undefined,
    key: string,
    path: string,
    body: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (owner === undefined) return await this.viaMaster(path, post(body), signal);
    return await this.route(key, path, post(body), { signal });
  }

  /**
   * Sends a request for `key`: to its primary in direct mode, `attempts` times (a ring refresh
   * after each failure `retryable` says a newer ring may route around), then through the master;
   * in proxy mode, to the master.
   */
  async route(
    key: string,
    path: string,
    init: CallInit,
    options: RouteOptions = {},
  ): Promise<unknown> {
    const { signal, read = false, attempts = 2, retryable = retries } = options;
    if (!this.direct) return await this.viaMaster(path, init, signal);
    let sending = init;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const owner = this.#ring.owner(key);
      if (owner === undefined) break;
      try {
        const answer = await this.callNode(owner, path, sending, signal);
        if (read && this.mayBeBehind(answer)) break;
        return answer;
      } catch (error) {
        if (mayHaveApplied(error) && options.again && sending !== options.again) {
          sending = options.again;
          options.onAgain?.();
        }
        if (!(error instanceof CacheError) || signal?.aborted) throw error;
        // A write its owner applied, then answered from a newer ring: applied where the ring it
        // was routed by put it, which hands it on. Sent again, an add() would fail on itself.
        if (!read && error instanceof StaleRing && error.applied) return error.body;
        // A miss while keys are moving may be a key on its way: the master looks where it was.
        const moving = read && error.status === 404 && this.keysMoving();
        if (moving) break;
        // Not sent again: the node's own answer, which a 421 would say refused it.
        if (!retryable(error)) throw error instanceof StaleRing ? error.asAnswered() : error;
        await this.refreshAfterFailure(signal);
      }
    }
    return await this.viaMaster(path, sending, signal);
  }

  /**
   * A call through a master: the one that answered last, then each other in turn while they
   * refuse connections (nothing was sent, so any call may go to the next).
   */
  async viaMaster(path: string, init: CallInit, signal?: AbortSignal): Promise<unknown> {
    const start = this.#current;
    for (let tried = 0;; tried++) {
      // Each call goes round the masters from the one current when it began, so calls refused
      // together do not move the others' turn past a master that answers.
      const at = (start + tried) % this.#masters.length;
      const master = this.#masters[at];
      try {
        const sent = await this.#deadlined(master, path, init, signal);
        const answer = await this.#caller.call(master, path, sent, signal);
        this.#current = at;
        return answer;
      } catch (error) {
        if (!(error instanceof Refused) || tried + 1 >= this.#masters.length) throw error;
      }
    }
  }

  /**
   * A call to a node, stamped with the epoch of the ring it was routed by (by default the current
   * one, as it is sent): a StaleRing (421) when the node knows a newer one. A write also carries
   * the moment this client stops waiting for it, in the node's clock as far as its answers told
   * (see `NodeClocks`), after which the node does not apply it.
   */
  async callNode(
    node: string,
    path: string,
    init: CallInit,
    signal?: AbortSignal,
    epoch = this.#view!.epoch,
  ): Promise<unknown> {
    const headers: Record<string, string> = { ...init.headers, [EPOCH_HEADER]: String(epoch) };
    if (!isRead(path, init)) {
      headers[DEADLINE_HEADER] = String(this.#clocks.nowOn(node) + this.#options.timeoutMs);
    }
    return await this.#caller.call(node, path, { ...init, headers }, signal, epoch);
  }

  /**
   * `init` of a write to `path` through `master` with the moment this client stops waiting for it,
   * in the master's clock as its answers told, so a master that reads it only later (paused
   * meanwhile) does not apply it. A master not heard from yet is asked first (`GET /live`, open
   * to all): a guess could refuse every write, and one sent with none could land late. Rejects
   * with Refused (the write not sent) when that master does not answer, so the write goes to the
   * next; with `signal`'s reason when it aborts first.
   */
  async #deadlined(
    master: string,
    path: string,
    init: CallInit,
    signal?: AbortSignal,
  ): Promise<CallInit> {
    if (isRead(path, init)) return init;
    if (!this.#clocks.knows(master) && !this.#toldNoClock(master)) {
      const asking = this.#askClock(master);
      await (signal ? untilAborted(asking, signal) : asking);
    }
    if (!this.#clocks.knows(master)) return init;
    const deadline = String(this.#clocks.nowOn(master) + this.#options.timeoutMs);
    return { ...init, headers: { ...init.headers, [DEADLINE_HEADER]: deadline } };
  }

  /** Asks `master` for its clock, once for all the writes waiting on it (see #deadlined). */
  #askClock(master: string): Promise<void> {
    let asking = this.#askingClock.get(master);
    if (!asking) {
      // A master that answers without its clock (one behind a proxy that drops the header, say)
      // is not asked again before each write: writes go to it with no deadline for a while.
      const answered = () => {
        if (!this.#clocks.knows(master)) this.#noClock.set(master, this.#now());
      };
      asking = this.#caller.call(master, "/live", {}).then(answered, (error) => {
        // It answered, if not as a probe should: the write goes, with a deadline if it told one.
        if (!unreached(error)) return answered();
        const reason = error instanceof Error ? error.message : String(error);
        const message = `${master} did not tell its clock, so the write was not sent: ${reason}`;
        throw new Refused(message, error);
      }).finally(() => this.#askingClock.delete(master));
      this.#askingClock.set(master, asking);
    }
    return asking;
  }

  /** Whether `master` answered lately without telling its clock (see #askClock). */
  #toldNoClock(master: string): boolean {
    const at = this.#noClock.get(master);
    return at !== undefined && this.#now() - at < NO_CLOCK_ASK_AGAIN_MS;
  }

  /** Releases the pooled connections. */
  close(): void {
    this.#caller.close();
  }

  #now(): number {
    return this.#options.now?.() ?? performance.now();
  }
}

/**
 * A JSON `POST` of `body`.
 *
 * @example
 * ```ts
 * import { post } from "./router.ts";
 * post('{"by":1}'); // { method: "POST", headers: { "content-type": "application/json" }, body }
 * ```
 */
export function post(body: string): CallInit {
  return { method: "POST", headers: JSON_TYPE, body };
}
