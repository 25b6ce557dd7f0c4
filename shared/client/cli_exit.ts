// The exit codes of `cache`, which scripts branch on.

/**
 * Exit codes: 0 done, 1 a key was not found or a condition did not hold, 2 a usage error, 3 the
 * cluster failed or refused, 130 interrupted (Ctrl-C).
 *
 * @example
 * ```ts
 * import { EXIT } from "./cli_exit.ts";
 * EXIT.notFound; // 1
 * ```
 */
export const EXIT = { ok: 0, notFound: 1, usage: 2, cluster: 3, interrupted: 130 } as const;
