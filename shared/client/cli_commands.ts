// The commands of `cache` against a cluster: which module does each, and the cluster-wide ones
// (stats, nodes, owners, top): what each calls, and what it prints and returns.

import { CacheClient } from "./client.ts";
import { Caller, Refused } from "./call.ts";
import type { Env, Invocation } from "./cli_args.ts";
import { EXIT } from "./cli_exit.ts";
import { nodesText, statsText } from "./cli_format.ts";
import { runKeyCommand } from "./cli_keys.ts";
import { keyRequests, type Sample, top } from "./cli_top.ts";
import { oneLine, UsageError } from "./cli_values.ts";
import { deadline, untilAborted } from "@cache/http1/deadline";
import { runtimeHttp1Client } from "@cache/http1/runtime_client";
import { ClusterStats, NodeList, RingView } from "@cache/protocol/wire";
import { Ring } from "@cache/ring/ring";

/** What the program reads and writes, passed in so that tests need no process. */
export interface CliIo {
  /** Writes to standard output. */
  stdout(text: string): void;
  /** Writes to standard error. */
  stderr(text: string): void;
  /** The environment: `CACHE_URL`, `CACHE_TOKEN`. `Deno.env`, or a `Map` in tests. */
  env: Env;
  /** Whether standard output is a terminal: `top` redraws in place only then. */
  stdoutIsTerminal?: boolean;
  /** Reads all of standard input, for `mset` without `--file`; none: there is no input. */
  readStdin?(): Promise<string>;
  /** Reads a file, for `mset --file`; default `Deno.readTextFile`. */
  readFile?(path: string): Promise<string>;
  /** A stand-in for `fetch`, for every call; default the client's pooled connections. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Aborts on Ctrl-C: `top` then ends with 0, another command with 130. */
  signal?: AbortSignal;
  /**
   * Milliseconds each call waits for its answer: default {@link TIMEOUT_MS} for the master's routes
   * and the client's own default for keys.
   */
  timeoutMs?: number;
}

/** Milliseconds each call to the master's routes waits for its answer. */
const TIMEOUT_MS = 5000;

/**
 * One command line's commands against the cluster, with the connections they open: `run()` does
 * the command and resolves to its exit code, or throws (a UsageError, ItemsError or CacheError)
 * for `cli.ts` to report; `close()` releases the connections.
 *
 * @example
 * ```ts
 * import { Commands } from "./cli_commands.ts";
 * import { parseInvocation } from "./cli_args.ts";
 * const commands = new Commands(parseInvocation(["stats"], Deno.env), io);
 * try {
 *   await commands.run(); // 0
 * } finally {
 *   commands.close();
 * }
 * ```
 */
export class Commands {
  readonly #call: Invocation;
  readonly #io: CliIo;
  #caller: Caller | undefined;
  #client: CacheClient | undefined;

  constructor(call: Invocation, io: CliIo) {
    this.#call = call;
    this.#io = io;
  }

  /** Does the command; resolves to its exit code. */
  async run(): Promise<number> {
    const { command, args } = this.#call;
    switch (command) {
      case "get":
      case "set":
      case "del":
      case "incr":
      case "decr":
      case "touch":
      case "mget":
      case "mset":
      case "scan":
      case "flush":
        return await runKeyCommand(command, this.#call, () => this.#cache(), this.#io);
      case "stats":
        return this.#print(ClusterStats.parse(await this.#master("/stats")), statsText);
      case "nodes":
        return this.#print(NodeList.parse(await this.#master("/nodes")), nodesText);
      case "owners":
        return await this.#owners(args[0]);
      case "top":
        return await this.#top();
      default:
        throw new UsageError(`Unknown command "${command}"`);
    }
  }

  /** Releases the connections. */
  close(): void {
    this.#client?.close();
    this.#caller?.close();
  }

  /** The owners of `key` in the master's ring, by the ring module the nodes place keys with. */
  async #owners(key: string): Promise<number> {
    const view = RingView.parse(await this.#master("/ring"));
    const ring = new Ring(view.nodes);
    const owners = ring.owners(key, view.replicas);
    if (owners.length === 0) {
      this.#io.stderr(
        `cache: ${
          oneLine(`The cluster at ${this.#call.urls.join(",")} has no node on its ring`)
        }\n`,
      );
      return EXIT.cluster;
    }
    if (this.#call.json) this.#json({ key, epoch: view.epoch, owners });
    else this.#io.stdout(owners.map((owner) => `${owner}\n`).join(""));
    return EXIT.ok;
  }

  async #top(): Promise<number> {
    const { json, intervalMs, once, urls } = this.#call;
    await top({
      sample: (signal) => this.#sample(signal),
      write: (text) => this.#io.stdout(text),
      url: urls.join(","),
      intervalMs,
      once,
      json,
      terminal: this.#io.stdoutIsTerminal ?? false,
      signal: this.#io.signal,
    });
    return EXIT.ok;
  }

  /** The master's `/stats` and each node's requests on its key routes, read from its `/metrics`. */
  async #sample(signal?: AbortSignal): Promise<Sample> {
    const stats = ClusterStats.parse(await this.#master("/stats", signal));
    const at = Date.now();
    const requests = new Map<string, number>();
    await Promise.all(stats.nodes.map(async (node) => {
      if ("error" in node) return;
      const count = await this.#keyRequests(node.address, signal);
      if (count !== undefined) requests.set(node.address, count);
    }));
    return { at, stats, requests };
  }

  /**
   * The requests `node` counted on its key routes, or undefined when its `/metrics` cannot be
   * read (not reachable from here, or it wants an admin token): `top` then shows no ops/s for it.
   */
  async #keyRequests(node: string, signal?: AbortSignal): Promise<number | undefined> {
    const limit = deadline(TIMEOUT_MS, `no answer within ${TIMEOUT_MS} ms`);
    const both = signal ? AbortSignal.any([signal, limit.signal]) : limit.signal;
    const { token } = this.#call;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const read = async () => {
      const answer = await (this.#io.fetch ?? fetch)(`${node}/metrics`, { headers, signal: both });
      if (answer.ok) return keyRequests(await answer.text());
      await answer.body?.cancel();
      return undefined;
    };
    try {
      return await untilAborted(read(), both);
    } catch {
      return undefined;
    } finally {
      limit.clear();
    }
  }

  /** The client of the key commands, connected once. */
  async #cache(): Promise<CacheClient> {
    const { urls, token, proxy } = this.#call;
    const mode = proxy ? "proxy" : "direct";
    const { fetch, timeoutMs } = this.#io;
    this.#client ??= await CacheClient.connect(urls, { token, mode, fetch, timeoutMs });
    return this.#client;
  }

  /** The caller of the master's routes, made once, over the runtime's transport as the client's. */
  async #masterCaller(): Promise<Caller> {
    const { fetch } = this.#io;
    const transport = fetch ? undefined : await runtimeHttp1Client();
    this.#caller ??= new Caller({
      fetch,
      transport,
      token: this.#call.token,
      timeoutMs: this.#io.timeoutMs ?? TIMEOUT_MS,
    });
    return this.#caller;
  }

  /** Calls `path` on the first master, then each other in turn while they refuse connections. */
  async #master(path: string, signal = this.#io.signal): Promise<unknown> {
    const { urls } = this.#call;
    const caller = await this.#masterCaller();
    for (let i = 0;; i++) {
      try {
        return await caller.call(urls[i], path, {}, signal);
      } catch (error) {
        if (!(error instanceof Refused) || i === urls.length - 1) throw error;
      }
    }
  }

  #print<T>(document: T, text: (document: T) => string): number {
    if (this.#call.json) this.#json(document);
    else this.#io.stdout(text(document));
    return EXIT.ok;
  }

  #json(document: unknown): void {
    this.#io.stdout(`${JSON.stringify(document)}\n`);
  }
}
