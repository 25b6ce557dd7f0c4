// The commands of `cache` on keys, through the client: what each calls, prints and returns.

import type { CacheClient } from "./client.ts";
import { CacheError } from "./call.ts";
import type { Invocation } from "./cli_args.ts";
import { batches, itemBytes } from "./batches.ts";
import { EXIT } from "./cli_exit.ts";
import { parseItems } from "./cli_items.ts";
import { lineField, quote, UsageError } from "./cli_values.ts";
import { scanPages } from "./scan.ts";
import { untilAborted } from "@cache/http1/deadline";
import { outcomeOf } from "./conditions.ts";
import { keyBytes } from "@cache/protocol/wire";

/** Where the key commands write, and what they read. */
export interface KeyIo {
  /** Writes to standard output. */
  stdout(text: string): void;
  /** Reads all of standard input, for `mset` without `--file`; none: there is no input. */
  readStdin?(): Promise<string>;
  /** Reads a file, for `mset --file`; default `Deno.readTextFile`. */
  readFile?(path: string): Promise<string>;
  /** Aborts on Ctrl-C. */
  signal?: AbortSignal;
}

/** The commands that work on keys: get, set, del, incr, decr, touch, mget, mset, scan, flush. */
export type KeyCommand =
  | "get"
  | "set"
  | "del"
  | "incr"
  | "decr"
  | "touch"
  | "mget"
  | "mset"
  | "scan"
  | "flush";

/**
 * Runs the key command of `call` with the client `connect` resolves to (called once the command's
 * input is read and checked), printing to `io`; resolves to its exit code, or throws (a
 * UsageError, ItemsError or CacheError) for `cli.ts` to report.
 *
 * @example
 * ```ts
 * import { CacheClient } from "./client.ts";
 * import { parseInvocation } from "./cli_args.ts";
 * import { runKeyCommand } from "./cli_keys.ts";
 * const connect = () => CacheClient.connect("http://127.0.0.1:8080");
 * const call = parseInvocation(["incr", "hits"], new Map());
 * await runKeyCommand("incr", call, connect, { stdout: (text) => console.log(text) }); // 0
 * ```
 */
export async function runKeyCommand(
  command: KeyCommand,
  call: Invocation,
  connect: () => Promise<CacheClient>,
  io: KeyIo,
): Promise<number> {
  return await new KeyCommands(call, connect, io)[command]();
}

/** One key command line's commands, each printing its answer. */
class KeyCommands {
  readonly #call: Invocation;
  readonly #connect: () => Promise<CacheClient>;
  readonly #io: KeyIo;

  constructor(call: Invocation, connect: () => Promise<CacheClient>, io: KeyIo) {
    this.#call = call;
    this.#connect = connect;
    this.#io = io;
  }

  async get(): Promise<number> {
    const [key] = this.#call.args;
    const cache = await this.#connect();
    if (!this.#call.json) {
      const value = await cache.get(key, this.#options());
      if (value !== undefined) this.#io.stdout(`${value}\n`);
      return value === undefined ? EXIT.notFound : EXIT.ok;
    }
    const item = await cache.getItem(key, this.#options());
    if (item === undefined) this.#json({ key, value: null, version: null });
    else {
      const { value, version, ttlSeconds } = item;
      this.#json({ key, value, version, ...(ttlSeconds === undefined ? {} : { ttl: ttlSeconds }) });
    }
    return item === undefined ? EXIT.notFound : EXIT.ok;
  }

  async set(): Promise<number> {
    const [key, value] = this.#call.args;
    const { ttlSeconds, condition } = this.#call;
    const options = { ...this.#options(), ttlSeconds, ...condition };
    const cache = await this.#connect();
    const outcome = await outcomeOf(cache.set(key, value, options));
    if (this.#call.json) this.#json(outcome);
    else if (outcome.ok) this.#io.stdout("OK\n");
    else {
      const now = outcome.version === null ? "not stored" : `at version ${outcome.version}`;
      this.#io.stdout(`NOT SET (${now})\n`);
    }
    return outcome.ok ? EXIT.ok : EXIT.notFound;
  }

  async del(): Promise<number> {
    const [key] = this.#call.args;
    const cache = await this.#connect();
    const deleted = await cache.delete(key, this.#options());
    if (this.#call.json) this.#json({ key, deleted });
    else this.#io.stdout(deleted ? "1\n" : "0\n");
    return deleted ? EXIT.ok : EXIT.notFound;
  }

  async incr(): Promise<number> {
    const [key] = this.#call.args;
    const { by = 1, ttlSeconds, requestId, retry } = this.#call;
    const cache = await this.#connect();
    const counter = await cache.incr(key, by, {
      ...this.#options(),
      ttlSeconds,
      requestId,
      retry,
    });
    if (this.#call.json) this.#json(counter);
    else this.#io.stdout(`${counter.value}\n`);
    return EXIT.ok;
  }

  /** `decr`: `incr` of the amount the command line already negated. */
  decr(): Promise<number> {
    return this.incr();
  }

  async touch(): Promise<number> {
    const [key] = this.#call.args;
    const cache = await this.#connect();
    const touched = await cache.touch(key, this.#call.touchTtl ?? null, this.#options());
    if (this.#call.json) this.#json({ key, touched });
    else this.#io.stdout(touched ? "1\n" : "0\n");
    return touched ? EXIT.ok : EXIT.notFound;
  }

  async mget(): Promise<number> {
    const keys = this.#call.args;
    const cache = await this.#connect();
    const values: (string | undefined)[] = [];
    // Batches no node refuses for their size, one after the other.
    for (const batch of batches(keys, keyBytes)) {
      values.push(...await cache.mget(batch, this.#options()));
    }
    const items = keys.map((key, i) => ({ key, value: values[i] ?? null }));
    if (this.#call.json) this.#json({ items });
    else {
      // A value "(nil)" is quoted, as it would read as a missing key.
      const valueField = (value: string | null) =>
        value === null ? "(nil)" : value === "(nil)" ? JSON.stringify(value) : lineField(value);
      const lines = items.map(({ key, value }) => `${lineField(key)}\t${valueField(value)}\n`);
      this.#io.stdout(lines.join(""));
    }
    return items.some((item) => item.value === null) ? EXIT.notFound : EXIT.ok;
  }

  async mset(): Promise<number> {
    const { file } = this.#call;
    const items = parseItems(await this.#input(), file ?? "standard input");
    const cache = await this.#connect();
    let stored = 0;
    for (const batch of batches(items, itemBytes)) {
      try {
        await cache.mset(batch, this.#options());
      } catch (error) {
        if (!(error instanceof CacheError) || stored === 0) throw error;
        const message =
          `${error.message} (the first ${stored} of ${items.length} items are stored)`;
        throw new CacheError(error.status, message);
      }
      stored += batch.length;
    }
    if (this.#call.json) this.#json({ ok: true, items: items.length });
    else this.#io.stdout("OK\n");
    return EXIT.ok;
  }

  /** Every key, printed a page at a time as the pages come (all at once with `--json`). */
  async scan(): Promise<number> {
    const { prefix, count, json } = this.#call;
    const cache = await this.#connect();
    const keys: string[] = [];
    const options = this.#options();
    const read = (cursor?: string) => cache.scanPage({ ...options, prefix, count, cursor });
    for await (const page of scanPages(read, options)) {
      if (json) keys.push(...page.keys);
      else if (page.keys.length > 0) {
        this.#io.stdout(page.keys.map((key) => `${lineField(key)}\n`).join(""));
      }
    }
    if (json) this.#json({ keys });
    return EXIT.ok;
  }

  async flush(): Promise<number> {
    const cache = await this.#connect();
    await cache.flush(this.#options());
    if (this.#call.json) this.#json({ ok: true });
    else this.#io.stdout("OK\n");
    return EXIT.ok;
  }

  /** The text of `--file`, or of standard input. */
  async #input(): Promise<string> {
    const { file } = this.#call;
    if (file !== undefined) {
      try {
        return await (this.#io.readFile ?? Deno.readTextFile)(file);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new UsageError(`Cannot read --file ${quote(file)}: ${reason}`);
      }
    }
    if (!this.#io.readStdin) {
      throw new UsageError("Missing items for mset: give --file <path>, or pipe them in");
    }
    // Ctrl-C ends the command while standard input is still open, not once it closes.
    const { signal } = this.#io;
    const read = this.#io.readStdin();
    return await (signal ? untilAborted(read, signal) : read);
  }

  #options(): { signal?: AbortSignal } {
    return this.#io.signal ? { signal: this.#io.signal } : {};
  }

  #json(document: unknown): void {
    this.#io.stdout(`${JSON.stringify(document)}\n`);
  }
}
