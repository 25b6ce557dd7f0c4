// A call's deadline: a signal that aborts with a TimeoutError unless the call is answered first.

/** Pass `signal` to the call; `clear()` once it is answered. */
export interface Deadline {
  signal: AbortSignal;
  clear(): void;
}

/**
 * A signal that aborts after `ms` with a `TimeoutError` saying `message`, unless `clear()` comes
 * first. `AbortSignal.timeout` cannot be cleared: it fires, and builds its error, for every call,
 * answered or not.
 *
 * @example
 * ```ts
 * import { deadline } from "./deadline.ts";
 * const limit = deadline(2000, "no answer within 2000 ms");
 * try {
 *   await fetch("http://127.0.0.1:8080/live", { signal: limit.signal });
 * } finally {
 *   limit.clear();
 * }
 * ```
 */
export function deadline(ms: number, message: string): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(message, "TimeoutError")), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/**
 * `call`, or a rejection with `signal`'s reason as soon as it aborts: for a stand-in fetch that may
 * ignore its signal, which would otherwise keep its caller (and any calls queued behind) waiting.
 *
 * @example
 * ```ts
 * import { deadline, untilAborted } from "./deadline.ts";
 * const limit = deadline(2000, "no answer within 2000 ms");
 * try {
 *   await untilAborted(fetch("http://127.0.0.1:8080/live"), limit.signal);
 * } finally {
 *   limit.clear();
 * }
 * ```
 */
export function untilAborted<T>(call: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
    // Handled either way, so a call that fails after the abort is no unhandled rejection.
    call.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
