// Entry point of the master: reads settings, tracks nodes, routes keys, drains on SIGTERM.

import { createLogger } from "@cache/log/log";
import { Metrics } from "@cache/service/metrics";
import { redacted } from "@cache/service/config";
import { serviceFetch } from "@cache/http1/fetch";
import { loadOrExit, loadSecurity, startService } from "@cache/service/serve";
import { createApp } from "./http/app.ts";
import { Breakers } from "./routing/breaker.ts";
import { DRAIN_TIMEOUT_MS, loadConfig, masterSettings } from "./config.ts";
import { electionBackend, urlOf } from "./membership/election/backends.ts";
import { Elector } from "./membership/election/elector.ts";
import { Follower } from "./membership/follower.ts";
import { Registry } from "./membership/registry.ts";
import { Reach } from "./membership/reach.ts";
import { Router } from "./routing/router.ts";

const config = loadOrExit("master", masterSettings, loadConfig);
// A follower waits this long for the leader's newer ring before resending a refused write.
const CATCH_UP_MS = 1000;
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

const log = createLogger("master", { level: config.logLevel });
const metrics = new Metrics();
const { auth, tls, caPem } = await loadSecurity("master", config, log);
// Calls to nodes (and to the leader) go over pooled keep-alive HTTP/1.1 connections.
const callNodes = serviceFetch({ token: config.token, caPem });

// Capped connections and timeouts: no client can hold the master's descriptors or memory. The
// server is bound first: the advertised URL needs its port. It answers 503 until it has routes.
const service = startService("master", config, tls, log);
const url = service.url;
const advertise = config.advertise ?? url.replace("://localhost", "://127.0.0.1");

// Until the first election attempt, a master follows.
let elector: Elector | undefined;
const electing = config.election !== "none";

const breakers = new Breakers({
  failures: config.breakerFailures,
  cooldownMs: config.breakerCooldownMs,
  now: Date.now,
  log,
});
const registry: Registry = new Registry({
  replicas: config.replicas,
  failureTimeoutMs: config.failureTimeoutMs,
  now: Date.now,
  log,
  // Epochs start from the clock, so a restarted master's epochs are newer than its last ones.
  initialEpoch: Date.now(),
  leading: () => !electing || (elector?.leading ?? false),
  // A restarted master learns the last ring from its nodes before it routes; a follower that
  // comes to lead without having had the leader's ring does the same.
  recoveryMs: config.recoveryMs,
  onJoined: (address) => breakers.reset(address),
  // A cluster whose nodes come and go keeps no series of those gone. (Its breaker stays: a ring
  // kept for reads of moving keys may still name it.)
  onForgotten: (address) => router.forget(address),
  callsNodes: true, // checked below: a node the master cannot call is down
});
const follower = electing
  ? new Follower({
    registry,
    leaderUrl: () => elector?.leading ? undefined : urlOf(elector?.leader),
    fetch: callNodes,
    log,
  })
  : undefined;
const router = new Router({
  known: (node) => registry.status(node) !== undefined,
  placement: registry,
  fetch: callNodes,
  timeoutMs: config.nodeTimeoutMs,
  breakers,
  metrics,
  onNewerEpoch: () => follower?.refresh(),
  // A node that answers the master's calls for keys is reached, as by its /live checks: loaded,
  // those alone timed out while the node served every read, and live nodes were marked down.
  onAnswered: (node) => registry.reached(node),
  // A write a node refused with 421 stored nothing: a follower sends it again once it has the
  // leader's newer ring; a sole master has its newest ring already (the node learned it from this
  // master after the write was routed: a node that restarted, say), so sends it again at once.
  catchUp: follower
    ? () => {
      const caughtUp = registry.changed(CATCH_UP_MS);
      follower.refresh();
      return caughtUp;
    }
    : () => Promise.resolve(),
});
// The master calls every node it knows a few times per failure timeout, as it calls them for keys:
// a node it cannot call is marked down after a failure timeout, even while its heartbeats arrive;
// one whose calls are refused is gone, and marked down even while no node is heard from.
const reach = new Reach({
  fetch: callNodes,
  timeoutMs: Math.min(config.nodeTimeoutMs, Math.ceil(config.failureTimeoutMs / 2)),
  log,
  now: Date.now,
  refused: (address) => registry.refused(address),
});
const calling = new Set<string>(); // one check in flight per node
const checker = setInterval(() => {
  for (const { address, status } of registry.list().nodes) {
    // A leaving node marked down is asked for keys while it may hand over: is it still there?
    if ((status === "down" && registry.notAsked(address)) || calling.has(address)) continue;
    calling.add(address);
    reach.check(address).then(() => registry.reached(address), () => {})
      .finally(() => calling.delete(address));
  }
}, Math.max(50, Math.floor(config.failureTimeoutMs / 4)));
const app = createApp({
  registry,
  reach: (address) => reach.check(address),
  tls: tls !== undefined,
  router,
  maxValueBytes: config.maxValueBytes,
  log,
  metrics,
  breakers,
  auth,
  metricsAuth: config.metricsAuth ?? auth.enabled, // with tokens, metrics too need one
  follower,
  election: () => ({
    mode: config.election,
    self: advertise,
    leader: (elector ? urlOf(elector.leader) : advertise) ?? null,
    leading: registry.leading,
    term: registry.term,
  }),
});

// A tenth of the timeout between sweeps: a silent node is down within 1.1 timeouts.
const sweepMs = Math.min(1000, Math.max(10, Math.floor(config.failureTimeoutMs / 10)));
const sweeper = setInterval(() => registry.sweep(), sweepMs);

service.serve({ app, hot: app.hot });

const backend = config.election === "none" ? undefined : electionBackend({
  election: config.election,
  electionName: config.electionName,
  namespace: config.leaseNamespace ?? await podNamespace(),
  etcdEndpoints: config.etcdEndpoints,
  leaseDurationMs: config.leaseDurationMs,
  retryPeriodMs: config.retryPeriodMs,
  now: () => performance.now(), // judges the lease: a wall clock's step must not end or grant it
  log,
});
if (backend) {
  elector = new Elector({
    lock: backend.lock,
    identity: `${advertise}#${crypto.randomUUID()}`,
    renewDeadlineMs: config.renewDeadlineMs,
    retryPeriodMs: config.retryPeriodMs,
    now: () => performance.now(),
    log,
    onChange: (state) => {
      if (state.leading) registry.lead(state.term);
      else follower?.refresh(); // the leader changed: follow the new one now
    },
  });
  elector.start();
  follower?.start();
}

service.onStop(async () => {
  // Step down first, so another master takes over without waiting for the lease to expire.
  await elector?.stop();
  registry.close(); // answers the long polls of followers now
  await follower?.stop();
  backend?.close();
  clearInterval(sweeper);
  clearInterval(checker);
}, DRAIN_TIMEOUT_MS);
// Said once SIGTERM is handled: whoever reads it may stop the process at once.
log.info("listening", { url, advertise, reference: `${url}/reference`, config: redacted(config) });

/** The pod's namespace from its service account, or "default" outside Kubernetes. */
async function podNamespace(): Promise<string> {
  try {
    return (await Deno.readTextFile(SERVICE_ACCOUNT_NAMESPACE)).trim();
  } catch {
    return "default";
  }
}
