// The master's settings: flags over environment variables over defaults.

import { z } from "zod";
import {
  ConfigError,
  count,
  listenSettings,
  loadSettings,
  logLevel,
  origin,
  origins,
  securitySettings,
  type Settings,
} from "@cache/service/config";
import { DEFAULT_MAX_VALUE_BYTES } from "@cache/protocol/wire";

/** Milliseconds requests in flight get to finish after SIGTERM; Kubernetes waits 30 s in all. */
export const DRAIN_TIMEOUT_MS = 20_000;

/** Every setting of the master, with its flag, variable and default. */
export const masterSettings = {
  ...listenSettings(8080),
  replicas: {
    flag: "replicas",
    env: "REPLICAS",
    schema: count(2).pipe(z.number().max(10)),
    help: "Copies of each key (a primary and backups), capped by the number of up nodes",
  },
  failureTimeoutMs: {
    flag: "failure-timeout-ms",
    env: "FAILURE_TIMEOUT_MS",
    schema: count(3000, 10),
    help: "Milliseconds without a heartbeat before a node is marked down",
  },
  recoveryMs: {
    flag: "recovery-ms",
    env: "RECOVERY_MS",
    schema: count(3000, 0),
    help: "Milliseconds a master that starts with no ring waits for the nodes of the last ring " +
      "to report it before it routes (0: none)",
  },
  nodeTimeoutMs: {
    flag: "node-timeout-ms",
    env: "NODE_TIMEOUT_MS",
    schema: count(1000),
    help: "Milliseconds to wait for a node's answer before replying 504",
  },
  breakerFailures: {
    flag: "breaker-failures",
    env: "BREAKER_FAILURES",
    schema: count(5),
    help: "Consecutive failures of a node that open its circuit breaker",
  },
  breakerCooldownMs: {
    flag: "breaker-cooldown-ms",
    env: "BREAKER_COOLDOWN_MS",
    schema: count(5000),
    help: "Milliseconds an open breaker fails fast before it tries the node again",
  },
  advertise: {
    flag: "advertise",
    env: "ADVERTISE_URL",
    schema: origin().optional(),
    help: "URL other masters reach this master at (default http://127.0.0.1:<port>)",
  },
  election: {
    flag: "election",
    env: "ELECTION",
    schema: z.enum(["none", "kubernetes", "etcd"]).default("none"),
    help: "How masters elect a leader: none (one master), kubernetes (a Lease) or etcd",
  },
  etcdEndpoints: {
    flag: "etcd-endpoints",
    env: "ETCD_ENDPOINTS",
    schema: origins().optional(),
    help: "etcd client URLs, comma-separated (with --election etcd)",
  },
  electionName: {
    flag: "election-name",
    env: "ELECTION_NAME",
    schema: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a DNS label")
      .max(63).default("cache-master"),
    help: "Name of the Lease, or of the etcd election, the masters compete for",
  },
  leaseNamespace: {
    flag: "lease-namespace",
    env: "LEASE_NAMESPACE",
    schema: z.string().optional(),
    help: "Namespace of the Lease (default: the pod's own namespace)",
  },
  leaseDurationMs: {
    flag: "lease-duration-ms",
    env: "LEASE_DURATION_MS",
    schema: count(15_000, 1000),
    help: "Milliseconds a leader's silence must last before another master takes over",
  },
  renewDeadlineMs: {
    flag: "renew-deadline-ms",
    env: "RENEW_DEADLINE_MS",
    schema: count(10_000, 100),
    help: "Milliseconds within which a leader must renew, or it stops leading at once",
  },
  retryPeriodMs: {
    flag: "retry-period-ms",
    env: "RETRY_PERIOD_MS",
    schema: count(2000, 10),
    help: "Milliseconds between election attempts",
  },
  logLevel: logLevel(),
  ...securitySettings,
  token: {
    flag: "token",
    env: "MASTER_TOKEN",
    schema: z.string().optional(),
    help: "Token (node or admin role) the master sends to nodes",
  },
  maxValueBytes: {
    flag: "max-value-bytes",
    env: "MAX_VALUE_BYTES",
    schema: count(DEFAULT_MAX_VALUE_BYTES),
    help: "Largest value accepted, in UTF-8 bytes",
  },
} as const;

/** The master's settings. */
export type MasterConfig = Settings<typeof masterSettings>;

/**
 * Reads the master's settings from `env` and `args` (flags win); throws ConfigError naming the
 * flag.
 */
export function loadConfig(env: Record<string, string | undefined>, args: string[]): MasterConfig {
  const config = loadSettings(masterSettings, env, args);
  if (config.election === "etcd" && !config.etcdEndpoints) {
    throw new ConfigError("--election etcd needs --etcd-endpoints (ETCD_ENDPOINTS)");
  }
  if (config.renewDeadlineMs >= config.leaseDurationMs) {
    throw new ConfigError("--renew-deadline-ms must be shorter than --lease-duration-ms");
  }
  if (config.retryPeriodMs >= config.renewDeadlineMs) {
    throw new ConfigError("--retry-period-ms must be shorter than --renew-deadline-ms");
  }
  return config;
}
