// Exactly-once increments over a network that loses answers: one request id per increment, the
// same on every retry, so the key's owners apply it once and answer each retry what they answered.

import { CacheError, expected, keyPath, mayHaveApplied, retries } from "./call.ts";
import { type IncrOptions, ttlField } from "./options.ts";
import { post, type Router } from "./router.ts";
import { Counter } from "@cache/protocol/wire";

/** Rounds of an increment whose outcome is unknown before its error is thrown. */
export const INCR_ATTEMPTS = 3;

/** Milliseconds waited before each retry of an increment: the second round, then the third. */
export const INCR_RETRY_DELAYS_MS = [50, 200];

/**
 * Whether an increment that failed with `error` may have been applied, or may go through if sent
 * again: no answer (refused, reset, timed out), the node or master failing on the way (502, 503,
 * 504), or a redirect to a newer ring (421). Any other answer is final: 409 (not an integer) is
 * not retried, nor are 400, 413 or 507.
 *
 * @example
 * ```ts
 * import { CacheError, retries } from "./call.ts";
 * import { unknownOutcome } from "./counters.ts";
 * unknownOutcome(new CacheError(504, "no answer")); // true
 * unknownOutcome(new CacheError(409, "not an integer")); // false
 * ```
 */
export function unknownOutcome(error: unknown): boolean {
  // What a newer ring may route around, but a full store (507): that answer is final.
  return retries(error) && (error as CacheError).status <= 504;
}

/** How {@link incrementOnce} sends and waits. */
export interface IncrementOnceOptions {
  /** The increment's request id, sent with every round. */
  requestId: string;
  /** Rounds at most; default {@link INCR_ATTEMPTS}. */
  attempts?: number;
  /** Milliseconds before each retry; default {@link INCR_RETRY_DELAYS_MS}. */
  delaysMs?: number[];
  /** Cancels the increment, between rounds too. */
  signal?: AbortSignal;
  /**
   * Whether a call outside the rounds may have applied it (a caller's own first try, a router's
   * resend), asked once every round failed; the rounds' own failures count too.
   */
  mayHaveApplied?: () => boolean;
}

/**
 * Sends one increment (`send`, whose body carries `requestId`) until it has an answer, at most
 * `attempts` rounds while its outcome is unknown ({@link unknownOutcome}), and resolves to the
 * counter the owners answered. The owners remember the request id for two minutes, so a retry of
 * an increment that was applied is not applied again. When every round failed, it throws the last
 * error's status, its message saying first whether the increment may have been applied (then
 * under which request id to send it again, `requestId` and `retry: true` in its `details` too) or
 * surely was not (every call refused before a node could apply it).
 *
 * @example
 * ```ts
 * import { incrementOnce } from "./counters.ts";
 * const requestId = crypto.randomUUID();
 * const body = JSON.stringify({ by: 1, requestId });
 * const counter = await incrementOnce(
 *   () => caller.call("http://127.0.0.1:8080", "/keys/hits/incr", { method: "POST", body }),
 *   { requestId },
 * ); // { key: "hits", value: 1, version: "7.1733160000000123" }
 * ```
 */
export async function incrementOnce(
  send: (again: boolean) => Promise<unknown>,
  options: IncrementOnceOptions,
): Promise<Counter> {
  const { requestId, attempts = INCR_ATTEMPTS, delaysMs = INCR_RETRY_DELAYS_MS, signal } = options;
  let again = false; // a round may have applied it: the next ones say they send it again
  for (let round = 1;; round++) {
    try {
      return expected(Counter, await send(again), `Increment ${requestId}`);
    } catch (error) {
      if (signal?.aborted || !unknownOutcome(error)) throw error;
      again ||= mayHaveApplied(error);
      const failed = error as CacheError;
      if (round >= attempts) {
        if (!again && !options.mayHaveApplied?.()) {
          // Every round was refused before a node could apply it (a lapsed lease, a refused
          // connection): a plain new try is safe, and a retry flag would only risk a 409.
          throw new CacheError(
            failed.status,
            `Increment "${requestId}" was not applied: every try was refused before a node ` +
              `could apply it (${failed.message})`,
            { ...failed.details, requestId },
          );
        }
        throw new CacheError(
          failed.status,
          `Increment "${requestId}" may or may not have been applied: send it again with this ` +
            `requestId and retry: true within 2 minutes, which applies it at most once ` +
            `(${failed.message})`,
          { ...failed.details, requestId, retry: true },
        );
      }
      await sleep(delaysMs[round - 1] ?? delaysMs.at(-1) ?? 0, signal);
    }
  }
}

/**
 * Adds `by` to the integer under `key` as {@link CacheClient.incr} does: one increment,
 * `POST /keys/{key}/incr` routed by `router`, sent by {@link incrementOnce} under
 * `options.requestId` (a new UUID unless given); resolves to the key's new value and version.
 *
 * @example
 * ```ts
 * import { increment } from "./counters.ts";
 * import { Router } from "./router.ts";
 * const router = new Router(["http://127.0.0.1:8080"], { mode: "proxy", timeoutMs: 5000 });
 * await increment(router, "hits", 1, {}); // { key: "hits", value: 1, version: "7.17331..." }
 * ```
 */
export async function increment(
  router: Router,
  key: string,
  by: number,
  options: IncrOptions,
): Promise<Counter> {
  const { signal } = options;
  const path = keyPath(key, "/incr");
  const requestId = options.requestId ?? crypto.randomUUID();
  const fields = { by, ...ttlField(options.ttlSeconds), requestId };
  const resend = post(JSON.stringify({ ...fields, retry: true }));
  let again = options.retry ?? false; // once a call may have applied it, every later one says so
  const counter = await incrementOnce((roundAgain) => {
    again ||= roundAgain;
    const init = again ? resend : post(JSON.stringify(fields));
    return router.route(key, path, init, { signal, again: resend, onAgain: () => again = true });
  }, { requestId, signal, mayHaveApplied: () => again });
  return { key: counter.key, value: counter.value, version: counter.version };
}

/** Waits `ms`, or rejects with the signal's reason once it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}
