// A master and nodes wired together in one process, with no socket: fetch calls the apps directly.

import { createApp as createMasterApp } from "../../master/http/app.ts";
import { Registry } from "../../master/membership/registry.ts";
import { Router } from "../../master/routing/router.ts";
import { createApp as createNodeApp } from "../../node/http/app.ts";
import { Store } from "../../node/store/store.ts";
import { primaryKeys } from "../../node/cluster/primary_keys.ts";
import type { Fetch } from "@cache/http1/fetch";
import { silentLogger as log } from "@cache/log/log";
import { Metrics } from "@cache/service/metrics";
import { Breakers } from "../../master/routing/breaker.ts";

/** The apps of an in-process cluster, and a fetch that reaches each by its address. */
export interface InProcessCluster {
  /** The master's app: a path and its init, or a whole Request. */
  master: {
    request: (input: string | Request, init?: RequestInit) => Response | Promise<Response>;
  };
  registry: Registry;
  router: Router;
  stores: Map<string, Store>;
  clock: { now: number };
  fetch: Fetch;
  /** Every call the master made to a node, as "METHOD url". */
  calls: string[];
  /** Each node's app by address. */
  nodeApps: Map<string, InProcessCluster["master"]>;
  /** Reports every registered node as done moving keys for the current epoch. */
  settle(): void;
}

/** A master at `http://master` and `nodes` registered nodes at `http://node-i:8081`. */
export function inProcessCluster(
  nodes: number,
  maxValueBytes = 1024,
  options: {
    breakerFailures?: number;
    /** Copies of each key the ring places. Default 1. */
    replicas?: number;
    /** Awaited before each call reaches its app, e.g. to hold calls until others arrive. */
    beforeCall?: (url: URL) => Promise<void>;
    /** As `--recovery-ms`: the master starts learning the last ring from its nodes. */
    recoveryMs?: number;
  } = {},
): InProcessCluster {
  const clock = { now: 0 };
  const registry: Registry = new Registry({
    replicas: options.replicas,
    recoveryMs: options.recoveryMs,
    failureTimeoutMs: 1000,
    now: () => clock.now,
    log,
    onForgotten: (address) => router.forget(address), // as master/main.ts does
  });
  const apps = new Map<string, { request: InProcessCluster["master"]["request"] }>();
  const stores = new Map<string, Store>();
  const calls: string[] = [];
  const fetch: Fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    calls.push(`${init?.method ?? "GET"} ${url}`);
    await options.beforeCall?.(url);
    const app = apps.get(url.origin);
    if (!app) throw new TypeError(`Connection refused: ${url.origin}`);
    return await app.request(url.pathname + url.search, init);
  };
  const now = () => clock.now;
  const metrics = new Metrics();
  const breakers = new Breakers({
    failures: options.breakerFailures ?? 5,
    cooldownMs: 1000,
    now,
    log,
  });
  const router = new Router({
    placement: registry,
    fetch,
    timeoutMs: 1000,
    breakers,
    metrics,
    known: (node) => registry.status(node) !== undefined, // as master/main.ts does
    now,
  });
  const master = createMasterApp({ registry, router, maxValueBytes, log, now, metrics, breakers });
  apps.set("http://master", master);
  for (let i = 0; i < nodes; i++) {
    const address = `http://node-${i}:8081`;
    const store = new Store({ now, countsSlots: true });
    stores.set(address, store);
    // Like node/main.ts: primary of the keys the ring gives it, of every key with no ring.
    const keysOwned = primaryKeys(store, address, () => registry.ring);
    apps.set(
      address,
      createNodeApp({
        store,
        maxValueBytes,
        notReady: () => undefined,
        log,
        now,
        primaryKeys: keysOwned,
      }),
    );
    registry.heartbeat(address);
  }
  const nodeApps = new Map([...apps].filter(([address]) => address !== "http://master"));
  const settle = () => {
    for (const { address } of registry.list().nodes) {
      registry.heartbeat(address, { synced: registry.epoch });
    }
  };
  settle();
  return { master, registry, router, stores, clock, fetch, calls, nodeApps, settle };
}
