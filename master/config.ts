// The master's settings: flags over environment variables over defaults.

import { z } from "zod";
import {
  count,
  listenSettings,
  loadSettings,
  logLevel,
  securitySettings,
  type Settings,
} from "../shared/config.ts";
import { DEFAULT_VNODES } from "../shared/ring.ts";
import { DEFAULT_MAX_VALUE_BYTES } from "../shared/wire.ts";

/** Every setting of the master, with its flag, variable and default. */
export const masterSettings = {
  ...listenSettings(8080),
  vnodes: {
    flag: "vnodes",
    env: "VNODES",
    schema: count(DEFAULT_VNODES).pipe(z.number().max(10_000)),
    help: "Points per node on the hash ring",
  },
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

/** Reads the master's settings from `env` and `args` (flags win); throws ConfigError naming the flag. */
export function loadConfig(env: Record<string, string | undefined>, args: string[]): MasterConfig {
  return loadSettings(masterSettings, env, args);
}
