// The checker's workload: writers with per-key sequence numbers and readers of random keys,
// through the master and a direct-mode client, recording every request for the verdict.

import { CacheClient } from "@cache/client";
import { type Figures, judge, type Read, summarise, type Write } from "./checker.ts";

/** A seeded PRNG (mulberry32): numbers in [0, 1), the same for the same seed and stream. */
export function prng(seed: number, stream = 0): () => number {
  let state = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `CHECKER_SEED` from the environment, to replay a run, or a new random seed. */
export function seedFromEnv(): number {
  const given = Deno.env.get("CHECKER_SEED");
  if (given !== undefined && given !== "") {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0) {
      throw new RangeError(`Invalid CHECKER_SEED "${given}": not a whole number`);
    }
    return seed >>> 0;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** A way to the cluster; `get` and `set` throw on anything but an answer. */
interface Route {
  name: string;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  close(): void;
}

/** Requests through the masters `masters()` names, in turn, each under `timeoutMs`. */
function viaMaster(masters: () => string[], timeoutMs: number): Route {
  let turn = 0;
  const base = () => {
    const list = masters();
    return list[turn++ % list.length];
  };
  return {
    name: "master",
    async get(key) {
      const signal = AbortSignal.timeout(timeoutMs);
      const answer = await fetch(`${base()}/keys/${encodeURIComponent(key)}`, { signal });
      const text = await answer.text();
      if (answer.status === 404) return undefined;
      if (answer.status !== 200) throw new Error(`GET answered ${answer.status}: ${text}`);
      return JSON.parse(text).value;
    },
    async set(key, value) {
      const answer = await fetch(`${base()}/keys`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key, value }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await answer.text();
      if (answer.status !== 204) throw new Error(`POST answered ${answer.status}: ${text}`);
    },
    close() {},
  };
}

/** Requests through a direct-mode client of `masters`. */
async function viaClient(masters: string[], timeoutMs: number): Promise<Route> {
  const client = await CacheClient.connect(masters, { mode: "direct", timeoutMs });
  return {
    name: "direct",
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    close: () => client.close(),
  };
}

/** How big and how bounded a {@link Workload} is. */
export interface WorkloadOptions {
  seed: number;
  /** The masters requests go through now; asked again before each request. */
  masters: () => string[];
  writers?: number;
  keysPerWriter?: number;
  readers?: number;
  /** Deadline of one request through the master, and of each call of the direct client. */
  timeoutMs?: number;
  /** Pause of each worker between its requests: bounds the load on a small machine. */
  pauseMs?: number;
  /** Requests per worker and phase, at most. */
  maxOps?: number;
  /** Milliseconds a phase's loops run, at most. */
  maxMs?: number;
}

/**
 * Writers, each owning its keys and writing `key#seq` with a growing `seq`, and readers of random
 * keys; writers and reads alternate between the master and a direct-mode client. Every request is
 * kept, with its start and end on one clock, for {@link summarise}.
 */
export class Workload {
  readonly writes = new Map<string, Write[]>();
  readonly reads: Read[] = [];
  readonly keys: string[] = [];
  readonly #options: Required<WorkloadOptions>;
  readonly #next = new Map<string, number>(); // next seq per key
  readonly #origin = performance.now();
  #last = 0;
  #stopped = true;
  #phases = 0; // phases started: each draws keys from streams of its own
  #running: Promise<void>[] = [];
  #routes: Route[] = [];

  constructor(options: WorkloadOptions) {
    this.#options = {
      writers: 6,
      keysPerWriter: 100,
      readers: 3,
      timeoutMs: 3000,
      pauseMs: 3,
      maxOps: 20_000,
      maxMs: 60_000,
      ...options,
    };
    const { writers, keysPerWriter } = this.#options;
    for (let w = 0; w < writers; w++) {
      for (let k = 0; k < keysPerWriter; k++) this.keys.push(`w${w}-k${k}`);
    }
    for (const key of this.keys) this.writes.set(key, []);
  }

  /** Milliseconds since the workload began, strictly increasing: ties cannot blur an order. */
  now(): number {
    this.#last = Math.max(performance.now() - this.#origin, this.#last + 1e-6);
    return this.#last;
  }

  /** Writes every key once through the master; throws unless all are acknowledged. */
  async fill(): Promise<void> {
    const route = viaMaster(this.#options.masters, this.#options.timeoutMs);
    await inParallel(this.keys, 8, (key) => this.#set(route, key, "fill"));
    const failed = this.keys.map((key) => this.writes.get(key)!.at(-1)!).filter((w) => !w.acked);
    if (failed.length > 0) {
      throw new Error(`Cannot fill: ${failed.length} writes failed, e.g. ${failed[0].error}`);
    }
  }

  /** Starts the writers and readers for `phase`. */
  async start(phase: string): Promise<void> {
    const { writers, readers, seed, maxMs } = this.#options;
    this.#stopped = false;
    const until = this.now() + maxMs;
    const stream = 1000 * ++this.#phases;
    for (let w = 0; w < writers; w++) {
      const route = w % 2 === 0 ? this.#master() : await this.#direct();
      this.#running.push(this.#writer(w, route, prng(seed, stream + w), phase, until));
    }
    for (let r = 0; r < readers; r++) {
      const routes = [this.#master(), await this.#direct()];
      this.#running.push(this.#reader(r, routes, prng(seed, stream + 100 + r), phase, until));
    }
  }

  /** Stops the loops, waits for every request in flight, and closes the clients. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
    this.#running = [];
    for (const route of this.#routes) route.close();
    this.#routes = [];
  }

  /** Reads every key through the master and through a direct client, retrying failed reads. */
  async finalCheck(phase: string): Promise<void> {
    const routes = [this.#master(), await this.#direct()];
    try {
      for (const route of routes) {
        await inParallel(this.keys, 8, async (key) => {
          for (let attempt = 0; attempt < 5; attempt++) {
            if (await this.#get(route, key, phase, true)) return;
            await new Promise((resolve) => setTimeout(resolve, 300));
          }
        });
      }
    } finally {
      for (const route of routes) route.close();
      this.#routes = this.#routes.filter((route) => !routes.includes(route));
    }
  }

  /**
   * Writes anew, through the master, every key the final check of `phase` found wrong, so that
   * the next fault starts from keys holding their last write; resolves to those writes.
   */
  async repair(phase: string): Promise<Write[]> {
    const wrong = new Set<string>();
    for (const read of this.reads) {
      if (read.phase !== phase || !read.final) continue;
      const verdict = judge(read, this.writes.get(read.key)!);
      if (verdict !== "ok" && verdict !== "error") wrong.add(read.key);
    }
    const route = viaMaster(this.#options.masters, this.#options.timeoutMs);
    await inParallel([...wrong], 8, (key) => this.#set(route, key, `${phase} (repair)`));
    return [...wrong].map((key) => this.writes.get(key)!.at(-1)!);
  }

  /** The figures of `phase`, whose fault began at `faultAt` (see {@link now}). */
  figures(phase: string, faultAt: number): Figures {
    return summarise(phase, faultAt, this.writes, this.reads);
  }

  async #writer(w: number, route: Route, random: () => number, phase: string, until: number) {
    const { keysPerWriter, maxOps, pauseMs } = this.#options;
    const own = this.keys.slice(w * keysPerWriter, (w + 1) * keysPerWriter);
    for (let i = 0; i < maxOps && !this.#stopped && this.now() < until; i++) {
      await this.#set(route, own[Math.floor(random() * own.length)], phase);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  async #reader(r: number, routes: Route[], random: () => number, phase: string, until: number) {
    const { maxOps, pauseMs } = this.#options;
    for (let i = 0; i < maxOps && !this.#stopped && this.now() < until; i++) {
      const key = this.keys[Math.floor(random() * this.keys.length)];
      await this.#get(routes[(i + r) % routes.length], key, phase, false);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  /** Writes the key's next value through `route`, keeping the write in the history. */
  async #set(route: Route, key: string, phase: string): Promise<void> {
    const seq = this.#next.get(key) ?? 0;
    this.#next.set(key, seq + 1);
    const value = `${key}#${seq}`;
    const write: Write = {
      key,
      seq,
      value,
      start: this.now(),
      end: Infinity,
      acked: false,
      phase,
      route: route.name,
    };
    this.writes.get(key)!.push(write);
    try {
      await route.set(key, value);
      write.acked = true;
    } catch (e) {
      write.error = e instanceof Error ? e.message : String(e); // attempted: it may still appear
    }
    write.end = this.now();
  }

  /** Reads `key` through `route`, keeping the read in the history; whether it was answered. */
  async #get(route: Route, key: string, phase: string, final: boolean): Promise<boolean> {
    const start = this.now();
    let value: string | undefined;
    let error: string | undefined;
    try {
      value = await route.get(key);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    this.reads.push({ key, start, end: this.now(), value, error, phase, route: route.name, final });
    return error === undefined;
  }

  #master(): Route {
    const route = viaMaster(this.#options.masters, this.#options.timeoutMs);
    this.#routes.push(route);
    return route;
  }

  async #direct(): Promise<Route> {
    const route = await viaClient(this.#options.masters(), this.#options.timeoutMs);
    this.#routes.push(route);
    return route;
  }
}

/** Calls `each` on every item, `width` at a time. */
async function inParallel<T>(items: T[], width: number, each: (item: T) => Promise<unknown>) {
  let next = 0;
  const lanes = Array.from({ length: width }, async () => {
    while (next < items.length) await each(items[next++]);
  });
  await Promise.all(lanes);
}
