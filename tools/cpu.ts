// The CPU time processes have used, from /proc: what a request costs the processes serving it,
// beside the requests per second wrk sees.

// Units of /proc/<pid>/stat's times: USER_HZ, 100 on every Linux this runs on.
const TICKS_PER_SECOND = 100;

/**
 * User + system CPU seconds that `pids` have used so far, or undefined where /proc cannot tell
 * (not Linux, or a process gone).
 *
 * @example
 * ```ts
 * import { cpuSeconds } from "./cpu.ts";
 * const before = await cpuSeconds([Deno.pid]);
 * ```
 */
export async function cpuSeconds(pids: number[]): Promise<number | undefined> {
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    } catch {
      return undefined;
    }
    // The fields after the command name, which is in parentheses and may hold spaces: utime and
    // stime are the 14th and 15th of the line.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}
