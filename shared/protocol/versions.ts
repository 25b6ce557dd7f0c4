// A key's version as clients see it: one opaque string for the (epoch, version) stamp of its write.

import type { Stamp } from "./replica.ts";

/**
 * The version string of a write stamped `stamp`: its ring epoch and its version within it. Every
 * write of a key gets a new one, and a backup holds the same stamp as its primary, so a version
 * read before a failover still matches after it. Clients compare it for equality only.
 *
 * @example
 * ```ts
 * import { versionOf } from "./versions.ts";
 * versionOf({ epoch: 7, version: 1733160000000123 }); // "7.1733160000000123"
 * ```
 */
export function versionOf(stamp: Stamp): string {
  return digitsOf(stamp.epoch ?? 0) + "." + digitsOf(stamp.version);
}

/**
 * `String(n)` for a safe non-negative integer, faster for large ones: every read answers a version,
 * and V8 turns a number past 2^30 into text as a double (300 ns), one below it as an integer.
 */
export function digitsOf(n: number): string {
  if (n < 0x40000000) return String(n);
  const high = Math.floor(n / 1e8);
  return String(high) + String(n - high * 1e8 + 1e8).slice(1); // the low 8 digits, zeros kept
}

/**
 * The ring epoch of the write a version string names ({@link versionOf}); 0 for a string that is
 * not one.
 *
 * @example
 * ```ts
 * import { epochOf } from "./versions.ts";
 * epochOf("7.1733160000000123"); // 7
 * ```
 */
export function epochOf(version: string): number {
  const dot = version.indexOf(".");
  const epoch = dot > 0 ? Number(version.slice(0, dot)) : NaN;
  return Number.isSafeInteger(epoch) ? epoch : 0;
}
