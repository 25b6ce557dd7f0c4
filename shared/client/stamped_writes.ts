// Writes in one round trip, a direct client's or the master's: each stamped with a version of the
// sender's clock and sent to every owner of its key at once, gathered per node as one
// POST /stamped while one is out.

import { type CoalesceLimits, Coalescer } from "@cache/async/coalesce";
import { byDeadline, sendGroups } from "@cache/async/deadlines";
import { CacheError, type CallInit, StaleRing, unreached } from "./call.ts";
import { MAX_BATCH, MAX_BATCH_BYTES, utf8Bytes } from "@cache/protocol/wire";

/** A stamped write on its way to one of its key's owners. */
interface Copy {
  /** The item as JSON, its version included. */
  item: string;
  /** Its UTF-8 bytes and a comma: measured once, for every owner's batch. */
  size: number;
  epoch: number;
  /** A `performance.now()` past which the copy is not sent: its sender stopped waiting. */
  until?: number;
}

/** How stamped writes reach a node. */
export interface StampedWritesOptions {
  /**
   * Calls `path` on `node` routed by ring `epoch`, to be applied no later than `until` (a
   * `performance.now()`), if given; resolves to the parsed body.
   */
  callNode(
    node: string,
    path: string,
    init: CallInit,
    epoch: number,
    until?: number,
  ): Promise<unknown>;
  /** Milliseconds since 1970; default `Date.now`. */
  now?: () => number;
  /**
   * Milliseconds `callNode` waits for a call by its own deadline: copies whose senders wait less
   * go in calls apart (see `byDeadline`). Default 0: with no `until` given, every copy waits as
   * long as a call.
   */
  timeoutMs?: number;
  /**
   * What a failed call does to the writes queued behind it (see `CoalesceLimits`); by default, a
   * node not reached fails them too, unsent.
   */
  failsWaiting?: CoalesceLimits<unknown>["failsWaiting"];
}

const JSON_TYPE = { "content-type": "application/json" };

/**
 * A stamped write every owner refused before storing anything of its call: no copy of it is
 * anywhere, so it is written again as any write, with no version to stay above. `cause` is the
 * primary's refusal.
 */
export class Unstamped extends Error {
  constructor(cause: unknown) {
    super(`No owner took the stamped write: ${cause instanceof Error ? cause.message : cause}`, {
      cause,
    });
    this.name = "Unstamped";
  }
}

/**
 * Whether a failed `/stamped` call surely stored none of its writes: a node answers 4xx before it
 * stores any (a version too far ahead 409, another ring 421, a bad body 400), except 413, which a
 * value too large for its store's bound gets after the writes before it in the call were stored.
 * With no answer, or a 5xx, some may have been.
 */
function storedNothing(error: unknown): boolean {
  // A node that learned a newer ring while it answered may have stored its copy first.
  const status = error instanceof StaleRing
    ? error.answered
    : (error as { status?: unknown } | undefined)?.status;
  return typeof status === "number" && status >= 400 && status < 500 && status !== 413;
}

/**
 * Sends each write to all its key's owners at once, with one version for all of them: microseconds
 * of the sender's clock, above every version it gave before. A write is stored once every owner
 * answered and none listed it as stale: the primary stores it only if it is newer than any state
 * of the key it holds or let go of, and a backup lists it when it holds its very version already.
 * A write that lost there (`false`), or failed anywhere (a rejection), is to be written again
 * through the primary, which orders it after.
 * Writes to a node already busy with one call wait and go together in its next.
 *
 * @example
 * ```ts
 * import type { CallInit } from "./call.ts";
 * import { StampedWrites } from "./stamped_writes.ts";
 * const callNode = (node: string, path: string, init: CallInit) => caller.call(node, path, init);
 * const writes = new StampedWrites({ callNode });
 * const owners = ["http://127.0.0.1:8081", "http://127.0.0.1:8082"]; // primary first
 * await writes.write(owners, '{"key":"user:42","value":"Ada"}', 3, writes.version()); // true
 * ```
 */
export class StampedWrites {
  readonly #options: StampedWritesOptions;
  #lastVersion = 0;
  readonly #coalescer: Coalescer<Copy, boolean>;

  constructor(options: StampedWritesOptions) {
    this.#options = options;
    this.#coalescer = new Coalescer<Copy, boolean>((node, copies) => this.#send(node, copies), {
      inFlight: 1,
      maxItems: MAX_BATCH,
      maxSize: MAX_BATCH_BYTES,
      sizeOf: (copy) => copy.size,
      failsWaiting: options.failsWaiting ??
        ((_node, error) => unreached(error) ? error : undefined),
    });
  }

  /**
   * Writes `body` (a JSON object with the write's `key`, `value` and `ttl`, as a client sent it,
   * whitespace and all) to `owners`, its key's primary first, routed by ring `epoch`, stamped
   * `version` (from {@link version}), none sent or applied past `until` (a `performance.now()`):
   * resolves true once stored on all, false when an owner holds a newer state or this very version
   * (another sender's write that chose it); rejects, once every owner answered or failed, with the
   * first owner's failure (a CacheError 504 for a copy that waited past `until`, unsent). Either
   * way, copies may be on some owners: write it again through the primary above `version`. But when
   * every owner refused it before storing anything (a version too far ahead of their clocks, say),
   * no copy is anywhere: it rejects with {@link Unstamped}, to write it again as any write.
   */
  async write(
    owners: string[],
    body: string,
    epoch: number,
    version: number,
    until?: number,
  ): Promise<boolean> {
    // The version goes in last: of two, JSON.parse keeps the last.
    const item = `${body.slice(0, body.lastIndexOf("}"))},"version":${version}}`;
    const copy: Copy = { item, size: utf8Bytes(item) + 1, epoch };
    if (until !== undefined) copy.until = until;
    const answers = await Promise.allSettled(
      owners.map((node) => this.#coalescer.submit(node, copy)),
    );
    const failures = answers.flatMap((answer) =>
      answer.status === "rejected" ? [answer.reason] : []
    );
    if (failures.length === 0) {
      return answers.every((answer) => answer.status === "fulfilled" && answer.value);
    }
    if (failures.length === owners.length && failures.every(storedNothing)) {
      throw new Unstamped(failures[0]);
    }
    throw failures[0];
  }

  /** A version above every one this sender gave: its clock in microseconds, or one more. */
  version(): number {
    const now = (this.#options.now?.() ?? Date.now()) * 1000;
    this.#lastVersion = Math.max(this.#lastVersion + 1, now);
    return this.#lastVersion;
  }

  /**
   * Posts `copies` to `node` as `/stamped`; each resolves whether the node stored it (false: stale
   * on its primary). A copy that waited past its `until` fails, unsent (504), as does one routed by
   * another ring than the first sent's (421). The others go as `byDeadline` sorts them: together,
   * each call applied by the earliest `until` in it, but those of senders that stop waiting very
   * soon, each alone, and those of senders that wait less than a call does, apart: so one sender's
   * short deadline fails no copy of a patient sender's.
   */
  async #send(node: string, copies: Copy[]): Promise<(boolean | Promise<boolean>)[]> {
    // Most calls: copies of one ring, with no deadline but the call's own.
    const first = copies[0].epoch;
    if (copies.every((copy) => copy.until === undefined && copy.epoch === first)) {
      return await this.#post(node, copies, first);
    }
    const { late, alone, short, patient } = byDeadline(
      copies,
      (copy) => copy.until,
      this.#options.timeoutMs ?? 0,
    );
    const gone = new Set(late);
    const epoch = copies.find((_, i) => !gone.has(i))?.epoch;
    const sendable = (i: number) => copies[i].epoch === epoch;
    // A call for each copy sent alone, one for the short deadlines, one for the others.
    const groups = [...alone.map((i) => [i]), short, patient]
      .map((group) => group.filter(sendable))
      .filter((group) => group.length > 0);
    const results = await sendGroups(
      groups,
      (group) => this.#post(node, group.map((i) => copies[i]), epoch!),
    );
    // The refusals are made only now: a rejection no one awaited during the calls would end the
    // process.
    for (const i of copies.keys()) {
      if (i in results) continue;
      results[i] = Promise.reject(
        gone.has(i)
          ? new CacheError(504, `The write waited past its sender's deadline: not sent to ${node}`)
          : new CacheError(421, "Ring changed"),
      );
    }
    return results;
  }

  /**
   * Posts `copies`, routed by ring `epoch`, to `node` as one `/stamped`, to be applied by the
   * earliest `until` among them; resolves whether the node stored each.
   */
  async #post(node: string, copies: Copy[], epoch: number): Promise<boolean[]> {
    let until = Infinity;
    for (const copy of copies) if (copy.until !== undefined) until = Math.min(until, copy.until);
    const body = `{"items":[${copies.map((copy) => copy.item).join(",")}]}`;
    const init = { method: "POST", headers: JSON_TYPE, body };
    const within = until === Infinity ? undefined : until;
    const answer = await this.#options.callNode(node, "/stamped", init, epoch, within);
    const listed = (answer as { stale?: unknown } | undefined)?.stale;
    const stale = new Set(Array.isArray(listed) ? listed : []);
    return copies.map((_, i) => !stale.has(i));
  }
}
