// A follower master's link to the leader: it takes the leader's ring by long poll and sends the
// leader the registration changes only the leader may make.

import { HttpError } from "@cache/protocol/errors";
import type { Fetch } from "@cache/http1/fetch";
import type { Logger } from "@cache/log/log";
import type { RawAnswer } from "@cache/http1/messages";
import { callPeer, type PeerInit, peerResponse } from "@cache/http1/peer";
import { sleep } from "@cache/async/sleep";
import { RingView } from "@cache/protocol/wire";
import type { Registry } from "./registry.ts";

/** Where the leader is and how to reach it. */
export interface FollowerOptions {
  registry: Registry;
  /** The leader's URL while another master leads; undefined while this one leads or none does. */
  leaderUrl: () => string | undefined;
  fetch: Fetch;
  log: Logger;
  /** Waits `ms` between polls, or less once `signal` aborts; default {@link sleep}. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** A monotonic clock in milliseconds, for the limit on refreshes; default `performance.now`. */
  now?: () => number;
}

/** Longest wait of one long poll of the leader's ring. */
const POLL_MS = 20_000;
/** Wait before asking again after a failure, or while no other master leads. */
const RETRY_MS = 250;
/** Timeout of a forwarded registration change. */
const FORWARD_TIMEOUT_MS = 2000;

/**
 * Keeps a follower's registry in step with the leader: it long-polls `GET /ring` with the term
 * and epoch it has, so the leader answers as soon as it has a newer ring, and asks again at once
 * when {@link refresh} says a node answered with a newer epoch or the leader changed.
 */
export class Follower {
  readonly #options: FollowerOptions;
  #running = false;
  #poll = new AbortController();
  #loop: Promise<void> = Promise.resolve();
  #failing = false;
  #lastRefresh = 0;
  #asking: string | undefined; // the leader the poll in flight asks

  constructor(options: FollowerOptions) {
    this.#options = options;
  }

  /** Starts following; a master that leads does not poll until it follows again. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#poll.abort();
    await this.#loop;
  }

  /**
   * Asks the leader again now: it changed, or a node knows a newer epoch. At most every 50 ms,
   * unless the leader is not the one the poll in flight asks.
   */
  refresh(): void {
    const now = this.#options.now?.() ?? performance.now();
    const moved = this.#options.leaderUrl() !== this.#asking;
    if (now - this.#lastRefresh < 50 && !moved) return;
    this.#lastRefresh = now;
    this.#poll.abort();
  }

  /**
   * Sends a registration change (or a flush) to the leader and returns its answer, adopting the
   * ring in it.
   * Throws HttpError 503 while no other master leads or the leader cannot be reached.
   */
  async forward(path: string, init: PeerInit, timeoutMs = FORWARD_TIMEOUT_MS): Promise<Response> {
    const leader = this.#options.leaderUrl();
    if (!leader) throw new HttpError(503, "No leader is elected: try again shortly");
    let answer: RawAnswer;
    try {
      answer = await callPeer(this.#options.fetch, leader, path, init, timeoutMs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new HttpError(503, `The leader ${leader} cannot be reached: ${reason}`);
    }
    if (answer.status === 200 || answer.status === 201) {
      const view = RingView.safeParse(parseJson(new TextDecoder().decode(answer.body)));
      if (view.success) this.#options.registry.adopt(view.data);
    }
    return peerResponse(answer);
  }

  async #run(): Promise<void> {
    const { registry, log } = this.#options;
    while (this.#running) {
      this.#poll = new AbortController();
      const leader = this.#options.leaderUrl();
      this.#asking = leader;
      if (!leader || registry.leading) {
        await (this.#options.sleep ?? sleep)(RETRY_MS, this.#poll.signal);
        continue;
      }
      const version = registry.leaderVersion;
      const query = `term=${registry.term}&epoch=${registry.epoch}` +
        `&settled=${registry.settled}${version === undefined ? "" : `&version=${version}`}` +
        `&waitMs=${POLL_MS}&movingFrom=true`;
      try {
        const signal = AbortSignal.any([this.#poll.signal, AbortSignal.timeout(POLL_MS + 5000)]);
        const answer = await this.#options.fetch(`${leader}/ring?${query}`, { signal });
        if (!answer.ok) throw new Error(`the leader answered ${answer.status}`);
        const news = registry.adopt(RingView.parse(await answer.json()));
        if (this.#failing) log.info("leader reachable again", { leader });
        this.#failing = false;
        // Nothing new (a poll that timed out, an older term, a leader shutting down that answers
        // every poll at once): wait before asking again, so no answer makes a tight loop.
        if (!news) await (this.#options.sleep ?? sleep)(RETRY_MS, this.#poll.signal);
      } catch (error) {
        if (this.#poll.signal.aborted) continue; // refreshed or stopped: ask again at once
        if (!this.#failing) {
          log.warn("cannot follow the leader", { leader, error: String(error) });
        }
        this.#failing = true;
        await (this.#options.sleep ?? sleep)(RETRY_MS, this.#poll.signal);
      }
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
