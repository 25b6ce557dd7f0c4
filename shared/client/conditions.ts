// Conditional writes: the conditions a set may carry, and what a write whose condition failed
// (412) tells its caller.

import { CacheError, mayHaveApplied, Refused, StaleRing } from "./call.ts";

/**
 * The condition of a set (`POST /keys`): `if` `"absent"` writes only a key not stored (add, Redis
 * SET NX), `"present"` only a key stored (replace, SET XX); `ifVersion` only a key stored at that
 * version (compare-and-set). Both may be given; every one given must hold.
 */
export interface SetCondition {
  /** `"absent"`: only if the key is not stored; `"present"`: only if it is. */
  if?: "absent" | "present";
  /** Only if the key is stored with this version, as {@link CacheClient.getItem} read it. */
  ifVersion?: string;
}

/** What a conditional set did: stored, or not, with the key's version then (null: no key). */
export type SetOutcome = { ok: true } | { ok: false; version: string | null };

/**
 * The fields of `condition` a `POST /keys` body carries; none for a set with no condition.
 *
 * @example
 * ```ts
 * import { conditionFields } from "./conditions.ts";
 * conditionFields({ if: "absent", ifVersion: undefined }); // { if: "absent" }
 * conditionFields({}); // {}
 * ```
 */
export function conditionFields(condition: SetCondition): SetCondition {
  const fields: SetCondition = {};
  if (condition.if !== undefined) fields.if = condition.if;
  if (condition.ifVersion !== undefined) fields.ifVersion = condition.ifVersion;
  return fields;
}

/**
 * Whether a conditional write that failed with `error` surely changed nothing, so that sending it
 * again cannot turn its own success into a failed condition: a redirect to a newer ring (421), no
 * node up to own the key (503), or nothing listening (the request was never sent). A failure with
 * no answer, a 502 or a 504 may come after the write was applied.
 *
 * @example
 * ```ts
 * import { CacheError } from "./call.ts";
 * import { notApplied } from "./conditions.ts";
 * notApplied(new CacheError(421, "The ring changed")); // true
 * notApplied(new CacheError(504, "no answer within 5000 ms")); // false
 * ```
 */
export function notApplied(error: unknown): boolean {
  // Answered from a newer ring: the node's own answer says (a 504 from its backup, say).
  if (error instanceof StaleRing) return !error.applied && !mayHaveApplied(error);
  return error instanceof Refused ||
    (error instanceof CacheError && (error.status === 421 || error.status === 503));
}

/**
 * The outcome of a conditional `write`: `{ ok: true }` once stored, `{ ok: false, version }` for
 * its 412, where `version` is the key's current version, or null when it is not stored. Any other
 * failure rejects as it did.
 *
 * @example
 * ```ts
 * import { outcomeOf } from "./conditions.ts";
 * const body = JSON.stringify({ key: "lock", value: "me", if: "absent" });
 * const outcome = await outcomeOf(caller.call(url, "/keys", { method: "POST", body }));
 * if (!outcome.ok) console.log(`taken, at version ${outcome.version}`);
 * ```
 */
export async function outcomeOf(write: Promise<unknown>): Promise<SetOutcome> {
  try {
    await write;
    return { ok: true };
  } catch (error) {
    if (!(error instanceof CacheError) || error.status !== 412) throw error;
    return { ok: false, version: versionIn(error) };
  }
}

/** The key's current version a 412 carries: its `version`, a string or null. */
function versionIn(error: CacheError): string | null {
  const { version } = error.details;
  return typeof version === "string" ? version : null;
}
