// A batch's calls to several nodes, answered as one: every call waited for, no failure lost.

import { HttpError } from "@cache/protocol/errors";

/**
 * Waits for every call; if any failed, throws the first failure's HttpError, its message
 * completed by `outcome(failed, total)` so a partial write is never silent.
 */
export async function settleAll(
  calls: Promise<unknown>[],
  outcome?: (failed: number, total: number) => string,
): Promise<void> {
  const results = await Promise.allSettled(calls);
  const failures = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
  if (failures.length === 0) return;
  throw combined(failures, outcome?.(failures.length, calls.length) ?? "");
}

/**
 * The first of `failures` as an HttpError, saying how many more failed, then `outcome`; its body
 * carries `details` too.
 */
export function combined(
  failures: unknown[],
  outcome: string,
  details: Record<string, unknown> = {},
): HttpError {
  const first = failures[0];
  const error = first instanceof HttpError ? first : new HttpError(502, String(first));
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more failed)` : "";
  return new HttpError(error.status, error.message + more + outcome, details);
}
