// `cache`, the command line for people who operate a cluster: keys, counters, scans, stats, top.
// Run it with `deno task cli <command>`, or as `cache` from the npm package (tools/npm_client.ts);
// `run()` is the whole program, with its streams passed in.

import { CacheError, TimedOut, UnreadableAnswer } from "./call.ts";
import { type Invocation, parseInvocation } from "./cli_args.ts";
import { type CliIo, Commands } from "./cli_commands.ts";
import { EXIT } from "./cli_exit.ts";
import { HELP } from "./cli_help.ts";
import { ItemsError } from "./cli_items.ts";
import { runtimeProcess } from "./cli_process.ts";
import { oneLine, UsageError } from "./cli_values.ts";

export type { CliIo } from "./cli_commands.ts";
export { EXIT } from "./cli_exit.ts";

/**
 * Runs one command line, writing to `io`, and resolves to the exit code ({@link EXIT}).
 *
 * @example
 * ```ts
 * import { run } from "./cli.ts";
 * const code = await run(["get", "user:42"], {
 *   stdout: (text) => console.log(text.trimEnd()),
 *   stderr: (text) => console.error(text.trimEnd()),
 *   env: new Map([["CACHE_URL", "http://127.0.0.1:8080"]]),
 * }); // 0, or 1 when user:42 is not stored
 * ```
 */
export async function run(args: string[], io: CliIo): Promise<number> {
  let call: Invocation;
  try {
    call = parseInvocation(args, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`cache: ${oneLine(error.message)}\n`);
    return EXIT.usage;
  }
  if (call.command === "help") {
    io.stdout(HELP);
    return EXIT.ok;
  }
  const commands = new Commands(call, io);
  try {
    return await commands.run();
  } catch (error) {
    // First: standard input cut short by Ctrl-C reads as no items, a usage error.
    if (io.signal?.aborted) return call.command === "top" ? EXIT.ok : EXIT.interrupted;
    if (error instanceof UsageError || error instanceof ItemsError) {
      io.stderr(`cache: ${oneLine(error.message)}\n`);
      return EXIT.usage;
    }
    io.stderr(`cache: ${oneLine(failure(call.urls, error))}\n`);
    return EXIT.cluster;
  } finally {
    commands.close();
  }
}

/** The one line saying why the cluster at `urls` failed the command. */
function failure(urls: string[], error: unknown): string {
  const at = urls.join(",");
  if (error instanceof CacheError) {
    if (error instanceof TimedOut && urls.includes(error.url)) {
      return `The cluster at ${at} ${error.late}`;
    }
    // A node's, in direct mode, or a write's clock asked first: reached, perhaps.
    if (error instanceof TimedOut || error.cause instanceof TimedOut) {
      return `The cluster at ${at} did not answer in time: ${error.message}`;
    }
    if (error.status === 0) {
      // The caller's message starts with the URL it could not reach: kept when it is a node's.
      const reason = urls.reduce(
        (message, url) => message.replace(`${url} could not be reached: `, ""),
        error.message,
      );
      return `Cannot reach the cluster at ${at}: ${reason}`;
    }
    // A 502 of this client's own: whatever answered sent no such status.
    if (error instanceof UnreadableAnswer) {
      return `The cluster at ${at} gave an answer this client cannot read: ${error.message}`;
    }
    return `The cluster at ${at} answered ${error.status}: ${error.message}`;
  }
  const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] })?.issues;
  if (Array.isArray(issues) && issues.length > 0) {
    const [issue] = issues;
    const where = issue.path.length > 0 ? ` at ${issue.path.map(String).join(".")}` : "";
    return `The cluster at ${at} answered an unexpected document${where}: ${issue.message}`;
  }
  const reason = error instanceof Error ? error.message : String(error);
  return `The cluster at ${at} failed: ${reason}`;
}

/**
 * The program: `run()` on this process's streams and environment, under Deno or Node; the first
 * Ctrl-C ends the command (`top` with 0), a second one the process. Resolves to the exit code once
 * all the output is written.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * Deno.exit(await main(["stats"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const host = runtimeProcess();
  const interrupt = new AbortController();
  const stopListening = host.onInterrupt(() => {
    if (interrupt.signal.aborted) host.exit(EXIT.interrupted);
    interrupt.abort(new Error("Interrupted"));
  });
  try {
    return await run(args, { ...host.io, signal: interrupt.signal });
  } finally {
    stopListening();
    await host.flushed();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
