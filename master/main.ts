// Entry point of the master: reads settings, tracks nodes, routes keys, drains on SIGTERM.

import { Drain } from "../shared/drain.ts";
import { createLogger } from "../shared/log.ts";
import { Metrics } from "../shared/metrics.ts";
import { redacted } from "../shared/config.ts";
import { serviceFetch } from "../shared/fetch.ts";
import { listenUrl, loadOrExit, loadSecurity, onStopSignal } from "../shared/service.ts";
import { createApp } from "./app.ts";
import { Breakers } from "./breaker.ts";
import { loadConfig, masterSettings } from "./config.ts";
import { Registry } from "./registry.ts";
import { Router } from "./router.ts";

const config = loadOrExit("master", masterSettings, loadConfig);
// Requests in flight get this long to finish after SIGTERM; Kubernetes waits 30 s by default.
const DRAIN_TIMEOUT_MS = 20_000;

const log = createLogger("master", { level: config.logLevel });
const metrics = new Metrics();
const { auth, tls, caPem } = await loadSecurity("master", config, log);
// Deno's fetch keeps connections to each node alive and reuses them.
const callNodes = serviceFetch({ token: config.token, caPem });

const registry = new Registry({
  vnodes: config.vnodes,
  replicas: config.replicas,
  failureTimeoutMs: config.failureTimeoutMs,
  now: Date.now,
  log,
  // Epochs start from the clock, so a restarted master's epochs are newer than its last ones.
  initialEpoch: Date.now(),
});
const breakers = new Breakers({
  failures: config.breakerFailures,
  cooldownMs: config.breakerCooldownMs,
  now: Date.now,
  log,
});
const router = new Router({
  placement: registry,
  fetch: callNodes,
  timeoutMs: config.nodeTimeoutMs,
  breakers,
  metrics,
});
const app = createApp({
  registry,
  router,
  maxValueBytes: config.maxValueBytes,
  log,
  metrics,
  breakers,
  auth,
  metricsAuth: config.metricsAuth,
});

// A tenth of the timeout between sweeps: a silent node is down within 1.1 timeouts.
const sweepMs = Math.min(1000, Math.max(10, Math.floor(config.failureTimeoutMs / 10)));
const sweeper = setInterval(() => registry.sweep(), sweepMs);

const drain = new Drain();
const server = Deno.serve(
  { hostname: config.host, port: config.port, onListen: () => {}, ...tls },
  (request, info) => drain.track(() => app.fetch(request, info)),
);
const url = listenUrl(server.addr, tls !== undefined);
log.info("listening", { url, reference: `${url}/reference`, config: redacted(config) });

onStopSignal(async () => {
  clearInterval(sweeper);
  await drain.idle(DRAIN_TIMEOUT_MS);
  await server.shutdown();
}, log);
