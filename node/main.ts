// Entry point of a cache node: reads settings, serves the API, keeps registered, moves keys when
// the ring changes, and hands its keys over before it leaves on SIGTERM.

import { Metrics } from "@cache/service/metrics";
import { requestRecorder } from "@cache/service/observe";
import { createLogger } from "@cache/log/log";
import { redacted } from "@cache/service/config";
import { serviceFetch } from "@cache/http1/fetch";
import { loadOrExit, loadSecurity, startService } from "@cache/service/serve";
import { createApp } from "./http/app.ts";
import { MAX_FLUSH_AHEAD_US, Replicator, sendReplicas } from "./cluster/replicator.ts";
import { loadConfig, nodeSettings, STOP_AFTER_HANDOVER_MS } from "./config.ts";
import { masterList } from "./cluster/masters.ts";
import { Membership } from "./cluster/membership.ts";
import { BATCH_BYTES, Rebalancer } from "./cluster/rebalance.ts";
import { Strays } from "./cluster/strays.ts";
import { EvictionNotices, sendEvicted } from "./cluster/eviction_notices.ts";
import { maxBodyBytes } from "@cache/protocol/key_routes";
import { fenced } from "./cluster/fence.ts";
import { Writer } from "./cluster/writer.ts";
import { primaryKeys } from "./cluster/primary_keys.ts";
import type { Ring } from "@cache/ring/ring";
import { Store } from "./store/store.ts";

const config = loadOrExit("node", nodeSettings, loadConfig);
// By default all of the shutdown after SIGTERM fits in Kubernetes' default grace of 30 s: handing
// keys over gets up to 20 s, and requests in flight get what is left of 25 s.
const HANDOVER_TIMEOUT_MS = config.handoverTimeoutMs;
const SHUTDOWN_TIMEOUT_MS = HANDOVER_TIMEOUT_MS + STOP_AFTER_HANDOVER_MS;

const EXPIRE_TICK_MS = 100;
// A tenth of the node's time at most: 3,000-7,000 keys a tick here, where 2,000 were the limit.
const EXPIRE_MS_PER_TICK = 10;

const log = createLogger("node", { level: config.logLevel });
const { auth, tls, caPem } = await loadSecurity("node", config, log);
// Calls to the master and to other nodes carry this node's token and trust --tls-ca.
const callPeers = serviceFetch({ token: config.token, caPem });

// Capped connections and timeouts: no client can hold the node's descriptors or memory. The
// server is bound first: the advertised URL needs its port. It answers 503 until it has routes.
const service = startService("node", config, tls, log);
const advertise = config.advertise ?? `${tls ? "https" : "http"}://127.0.0.1:${service.addr.port}`;
const metrics = new Metrics();
const store = new Store({
  maxBytes: config.maxMemoryBytes,
  eviction: config.eviction,
  onEvict: (key, stamp) => evictions.evicted(key, stamp),
  movingKeys: () => membership.view?.settled === false,
  countsSlots: true, // for the keys it is the primary of, in /stats
  // With backups, a node evicts keys it is the primary of first: copies go as their primaries
  // evict them (see evictions below), so a key keeps its R copies or none. Not while keys move:
  // copies made then (a node lost, its keys copied again) would evict whole keys, not copies. Nor
  // before the ring's slots are marked: a key no longer its own would go, and no backup be told.
  copyShare: () => {
    const view = membership.view;
    if (!view || view.settled === false || marked !== membership.ring) return 0;
    return (view.replicas - 1) / view.replicas;
  },
});
// A key this node evicts as its primary is let go by its backups too: else reads miss a key that
// scans still list, and that comes back when a backup takes over.
const evictions = new EvictionNotices({
  self: advertise,
  owners: (key) => {
    const view = membership.view;
    return view && view.replicas > 1 ? membership.ring.owners(key, view.replicas) : [];
  },
  send: (backup, evicted) => sendEvicted(callPeers, backup, evicted, config.peerTimeoutMs),
  log,
});
// Bytes of keys per call to a peer at most: half the body a peer configured alike takes, at most
// 1 MiB (a call over it would be refused whole, and every one after it).
const rebalanceBytes = Math.min(BATCH_BYTES, Math.floor(maxBodyBytes(config.maxValueBytes) / 2));
// Keys move to their new owners when the ring changes, which membership learns first.
const rebalancer = new Rebalancer({
  self: advertise,
  store,
  send: (node, replicas, view) =>
    sendReplicas(callPeers, node, replicas, config.peerTimeoutMs, view),
  batch: config.rebalanceBatch,
  batchBytes: rebalanceBytes,
  log,
});
// Keys a node behind this one hands over after this node's pass took its keys go on from here.
const strays: Strays = new Strays({
  self: advertise,
  store,
  view: () => membership.view,
  send: (node, replicas, view) =>
    sendReplicas(callPeers, node, replicas, config.peerTimeoutMs, view),
  batch: config.rebalanceBatch,
  batchBytes: rebalanceBytes,
  claimedAfter: (key, view) => rebalancer.claimedAfter(key, view),
  log,
});
let marked: Ring | undefined; // the ring whose slots the store's marks are of, for eviction
// The keys it is the primary of, for /stats; with no ring (on its own, or before the first one)
// the ring is empty: primary of every key.
const primaries = primaryKeys(store, advertise, () => membership.ring, undefined, (ring) => {
  marked = ring;
});
const evicts = config.eviction === "lru" && config.maxMemoryBytes > 0;
// `--master none`: a node on its own, which registers nowhere and serves every key.
const standalone = config.masters.length === 0;
const membership: Membership = new Membership({
  standalone,
  masters: masterList({
    urls: config.masters,
    resolve: (hostname) => Deno.resolveDns(hostname, "A"),
  }),
  advertise,
  heartbeatMs: config.heartbeatMs,
  fetch: callPeers,
  log,
  onRing: (view) => {
    rebalancer.follow(view);
    // The slots it is the primary of are marked for each ring, where eviction reads them.
    if (view.replicas > 1 && evicts) {
      primaries().catch((error) => log.warn("primary slots not marked", { error: String(error) }));
    }
  },
  onRejoin: () => {
    store.clear();
    rebalancer.reset();
    strays.reset();
  },
  synced: () => rebalancer.synced,
  flushed: () => store.flushedThrough,
  onFlushed: (version) => store.learnFlush(version, MAX_FLUSH_AHEAD_US),
});
const replicator: Replicator = new Replicator({
  self: advertise,
  ring: membership,
  fetch: callPeers,
  timeoutMs: config.peerTimeoutMs,
});
let stopping = false;
// Once set, copies are refused: one taken later would leave with this process.
let handedOver = false;
// Active expiry, like Redis': due keys for a bounded time per tick, so memory comes back without
// reads and no tick stalls requests.
const expirer = setInterval(() => store.expire(Infinity, EXPIRE_MS_PER_TICK), EXPIRE_TICK_MS);
const writer = new Writer(store, replicator, config.maxValueBytes, config.defaultTtlSeconds);
const ringEpoch = () => membership.view?.epoch;
const app = createApp({
  store,
  writer, // built here: the hot routes below share it
  rebalance: () => rebalancer.progress,
  refusesCopies: () =>
    handedOver ? `Node ${advertise} has handed its keys over and is shutting down` : undefined,
  replicated: (entries, from) => {
    rebalancer.claimed(entries, from);
    return strays.take(entries, from);
  },
  // Answered before the sender gives up on the call: a 504 it can pass on.
  sendOnWaitMs: Math.max(1, Math.floor(config.peerTimeoutMs / 2)),
  primaryKeys: primaries,
  ringEpoch,
  metrics,
  auth,
  metricsAuth: config.metricsAuth ?? auth.enabled, // with tokens, metrics too need one
  maxValueBytes: config.maxValueBytes,
  // Ready when it serves its keys: registered, and within the lease the fence below checks.
  notReady: () =>
    stopping
      ? "Shutting down"
      : standalone
      ? undefined
      : !membership.registered
      ? "Not registered with the master"
      : membership.leaseLeftMs() === 0
      ? "No lease from the leading master: serving no key until a heartbeat is answered"
      : undefined,
  log,
});

// Past its lease (the master may have given its keys to others), or before its first ring in a
// cluster, the node serves no key: the fence answers before the hot path and the app.
const fence = fenced(
  () => membership.leaseLeftMs(),
  advertise,
  requestRecorder(metrics),
  app.hot.routeOf,
  app.clock,
);
service.serve({ app, hot: app.hot, gate: fence });
if (!standalone) membership.start();

service.onStop(async () => {
  stopping = true;
  if (standalone) { // nothing to hand over: no one else holds keys
    clearInterval(expirer);
    return;
  }
  // Leave the ring first, so no new writes come here, then hand every key to its new owners.
  const started = performance.now();
  const left = () => Math.max(0, HANDOVER_TIMEOUT_MS - (performance.now() - started));
  membership.leave(left); // the masters ask it for its keys until then, even marked down
  // Past it, the masters count what is still here as gone: nothing more is handed over, even by
  // a pass under way or as keys sent on (a paused process, resumed, went on sending keys already
  // answered 404).
  rebalancer.stopAt(started + HANDOVER_TIMEOUT_MS);
  strays.stopAt(started + HANDOVER_TIMEOUT_MS);
  // A master that just restarted takes no beat until it knows the last ring: wait for it, as
  // keys this node alone holds have nowhere else to go.
  // With no ring (no master answered since it started) it holds no key: nothing to wait for.
  if (membership.view !== undefined && await membership.beatUntilTaken(HANDOVER_TIMEOUT_MS)) {
    let done = await rebalancer.idle(left()) && await strays.idle(left());
    handedOver = true;
    done &&= await strays.idle(left()); // keys sent on from copies taken just before
    if (done) log.info("keys handed over", { ...rebalancer.progress });
    else {
      // What no other node took is lost with this process (at R=1, its only copy): say so loudly,
      // as when every other node is full under noeviction.
      const held = store.stats().keys;
      log.error("handover timed out", { ...rebalancer.progress, keysStillHere: held });
    }
    await membership.beat(); // reports the handover done
  }
  clearInterval(expirer);
  await membership.stop();
  await membership.deregister();
}, SHUTDOWN_TIMEOUT_MS);
// Said once SIGTERM is handled: whoever reads it may stop the process at once (a test's SIGTERM
// just after it once found no handler yet, and the node died of the signal).
log.info("listening", { url: service.url, advertise, config: redacted(config) });
