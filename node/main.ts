// Entry point of a cache node: reads settings, serves the API, keeps registered, leaves on SIGTERM.

import { Drain } from "../shared/drain.ts";
import { createLogger } from "../shared/log.ts";
import { listenUrl, loadOrExit, onStopSignal } from "../shared/service.ts";
import { createApp } from "./app.ts";
import { loadConfig, nodeSettings } from "./config.ts";
import { Membership } from "./membership.ts";
import { Store } from "./store.ts";

const config = loadOrExit("node", nodeSettings, loadConfig);
// Requests in flight get this long to finish after SIGTERM; Kubernetes waits 30 s by default.
const DRAIN_TIMEOUT_MS = 20_000;

const EXPIRE_TICK_MS = 100;
const EXPIRE_PER_TICK = 2000;

const log = createLogger("node", { level: config.logLevel });

// The advertised URL needs the bound port, so the app is built once the server has it; no request
// can arrive before this module finishes running.
const drain = new Drain();
const server = Deno.serve(
  { hostname: config.host, port: config.port, onListen: () => {} },
  (request, info) => drain.track(() => app.fetch(request, info)),
);
const advertise = config.advertise ?? `http://127.0.0.1:${server.addr.port}`;
const membership = new Membership({
  masterUrl: config.masterUrl,
  advertise,
  heartbeatMs: config.heartbeatMs,
  fetch,
  log,
});
let stopping = false;
const store = new Store({ maxBytes: config.maxMemoryBytes, eviction: config.eviction });
// Active expiry, like Redis': a bounded number of due keys per tick, so memory comes back
// without reads and no tick stalls requests.
const expirer = setInterval(() => store.expire(EXPIRE_PER_TICK), EXPIRE_TICK_MS);
const app = createApp({
  store,
  maxValueBytes: config.maxValueBytes,
  defaultTtlSeconds: config.defaultTtlSeconds,
  notReady: () =>
    stopping
      ? "Shutting down"
      : membership.registered
      ? undefined
      : "Not registered with the master",
  log,
});

log.info("listening", { url: listenUrl(server.addr), advertise, config });
membership.start();

onStopSignal(async () => {
  stopping = true;
  clearInterval(expirer);
  await membership.stop();
  await membership.deregister();
  await drain.idle(DRAIN_TIMEOUT_MS);
  await server.shutdown();
}, log);
