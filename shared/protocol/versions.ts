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
  return `${stamp.epoch ?? 0}.${stamp.version}`;
}
