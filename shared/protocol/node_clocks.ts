// Each node's clock as a sender sees it, from the time a node puts on its answers: so that a
// write's deadline is given in the clock of the node that checks it, however far the two clocks
// are apart.

/**
 * Header on a node's answers: its clock, milliseconds since 1970, as it answered. A sender learns
 * from it how far the node's clock is from its own ({@link NodeClocks}).
 */
export const NODE_TIME_HEADER = "x-node-time";

/** How long the estimate from the quickest call is kept before a newer one replaces it. */
export const CLOCK_SAMPLE_MS = 5000;

/**
 * How long a node not heard from is remembered: a master that runs for months through pod churn
 * does not keep every address it ever called. Its next call learns the clock again.
 */
export const CLOCK_FORGET_MS = 10 * 60_000;

/** One estimate: the node's clock minus this one, from a call of `roundTripMs`, made at `at`. */
interface Sample {
  offsetMs: number;
  roundTripMs: number;
  at: number;
}

/**
 * How far each node's clock is from this one, learned from its answers: a node took its time
 * between the call's sending and its answer, so the midpoint of the two is off by at most half
 * the round trip. The quickest call of the last {@link CLOCK_SAMPLE_MS} gives the estimate, so a
 * slow answer does not skew it, and a clock that was set meanwhile is followed within that time.
 *
 * @example
 * ```ts
 * import { NodeClocks } from "./node_clocks.ts";
 * const clocks = new NodeClocks();
 * const sentAt = clocks.now();
 * // ... a call to the node, whose answer carried "x-node-time": "1700000000000"
 * clocks.observe("http://127.0.0.1:8081", "1700000000000", sentAt, clocks.now());
 * const deadline = clocks.nowOn("http://127.0.0.1:8081") + 2000; // in the node's clock
 * ```
 */
export class NodeClocks {
  readonly #samples = new Map<string, Sample>();
  readonly #now: () => number;
  #forgotAt = -Infinity;

  /**
   * `now`: this clock, milliseconds since 1970; default the monotonic clock from when this process
   * started, so that a step of the wall clock (NTP, an operator) does not move every deadline
   * given before the next answer tells the offset again.
   */
  constructor(now: () => number = () => performance.timeOrigin + performance.now()) {
    this.#now = now;
  }

  /** This clock now: what {@link observe}'s times are read from. */
  now(): number {
    return this.#now();
  }

  /**
   * Learns from an answer of `node` to a call sent at `sentAt` and answered at `receivedAt` (both
   * this clock) that carried `nodeTime`, its {@link NODE_TIME_HEADER}; an answer without one, or
   * with anything but a time, teaches nothing.
   */
  observe(node: string, nodeTime: string | null, sentAt: number, receivedAt: number): void {
    const time = timeOf(nodeTime);
    if (time === undefined) return;
    const roundTripMs = Math.max(0, receivedAt - sentAt);
    // Whole milliseconds, rounded down: a deadline goes as an integer and comes early, not late.
    const offsetMs = Math.floor(time - (sentAt + receivedAt) / 2);
    this.#take(node, { offsetMs, roundTripMs, at: receivedAt });
  }

  /**
   * Learns from a time `node` sent unasked (with a heartbeat), received at `receivedAt`: taken
   * only while no answer to a call told better, as how long it travelled is unknown (it makes the
   * node's clock seem behind by that long, so deadlines come early rather than late).
   */
  seed(node: string, nodeTime: string | null, receivedAt: number): void {
    const time = timeOf(nodeTime);
    if (time === undefined) return;
    this.#take(node, { offsetMs: time - receivedAt, roundTripMs: Infinity, at: receivedAt });
  }

  #take(node: string, sample: Sample): void {
    const kept = this.#samples.get(node);
    if (kept !== undefined) {
      // Kept for a while from when it was taken; not once this clock was set back before that,
      // nor once the two cannot both be right: each puts the offset within half its round trip,
      // and where those spans do not meet, the node's clock stepped since.
      const age = sample.at - kept.at;
      const fresh = age >= 0 && age < CLOCK_SAMPLE_MS;
      const apart = Math.abs(sample.offsetMs - kept.offsetMs);
      const agree = apart <= (sample.roundTripMs + kept.roundTripMs) / 2 + 1;
      if (fresh && agree && kept.roundTripMs < sample.roundTripMs) return;
    }
    this.#samples.set(node, sample);
    if (sample.at - this.#forgotAt >= CLOCK_SAMPLE_MS) this.#forget(sample.at);
  }

  /** Drops the nodes not heard from for {@link CLOCK_FORGET_MS}: run at most every few seconds. */
  #forget(now: number): void {
    this.#forgotAt = now;
    for (const [node, { at }] of this.#samples) {
      if (now - at >= CLOCK_FORGET_MS) this.#samples.delete(node);
    }
  }

  /** Whether `node` told its clock (and was heard from within {@link CLOCK_FORGET_MS}). */
  knows(node: string): boolean {
    return this.#samples.has(node);
  }

  /**
   * Now on `node`'s clock, in whole milliseconds, as far as its answers told: this clock's now
   * before any did.
   */
  nowOn(node: string): number {
    return Math.floor(this.#now() + (this.#samples.get(node)?.offsetMs ?? 0));
  }
}

/** The time a node sent, or undefined for none or anything but a whole number of milliseconds. */
function timeOf(nodeTime: string | null): number | undefined {
  if (nodeTime === null) return undefined;
  const time = Number(nodeTime);
  return Number.isSafeInteger(time) && time > 0 ? time : undefined;
}
