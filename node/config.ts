// The node's settings: flags over environment variables over defaults.

import { z } from "zod";
import {
  bytes,
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
import { DEFAULT_MAX_VALUE_BYTES, MAX_TTL_SECONDS } from "@cache/protocol/wire";

/**
 * Milliseconds a node's shutdown takes past its handover at most: a last beat, deregistering, and
 * requests in flight finishing.
 */
export const STOP_AFTER_HANDOVER_MS = 5000;

/** Every setting of the node, with its flag, variable and default. */
export const nodeSettings = {
  ...listenSettings(8081),
  masters: {
    flag: "master",
    env: "MASTER_URL",
    schema: z.union([z.literal("none").transform((): string[] => []), origins()])
      .default(["http://127.0.0.1:8080"]),
    help: "Master URLs, comma-separated, or one DNS name resolving to every master; none: a " +
      "node on its own, which serves every key (a node of a cluster serves none until it has a ring)",
  },
  advertise: {
    flag: "advertise",
    env: "ADVERTISE_URL",
    schema: origin().optional(),
    help: "URL the master and peers reach this node at (default http://127.0.0.1:<port>)",
  },
  heartbeatMs: {
    flag: "heartbeat-ms",
    env: "HEARTBEAT_MS",
    schema: count(1000, 10),
    help:
      "Milliseconds between heartbeats to the master (sooner, at half the lease, when the lease " +
      "is shorter than two)",
  },
  peerTimeoutMs: {
    flag: "peer-timeout-ms",
    env: "PEER_TIMEOUT_MS",
    schema: count(2000),
    help: "Milliseconds to wait for a peer node (backups, key moves)",
  },
  handoverTimeoutMs: {
    flag: "handover-timeout-ms",
    env: "HANDOVER_TIMEOUT_MS",
    schema: count(20_000, 1000),
    help: "On SIGTERM, milliseconds to hand keys over before exiting, a wait for a master that " +
      "answers 503, refuses calls or does not answer included (the shutdown takes 5 s more)",
  },
  rebalanceBatch: {
    flag: "rebalance-batch",
    env: "REBALANCE_BATCH",
    schema: count(500).pipe(z.number().max(10_000)),
    help: "Keys per request when moving keys to other nodes",
  },
  logLevel: logLevel(),
  ...securitySettings,
  token: {
    flag: "token",
    env: "NODE_TOKEN",
    schema: z.string().optional(),
    help: "Token (node role) this node sends to the master and to other nodes",
  },
  maxValueBytes: {
    flag: "max-value-bytes",
    env: "MAX_VALUE_BYTES",
    schema: count(DEFAULT_MAX_VALUE_BYTES),
    help: "Largest value accepted, in UTF-8 bytes",
  },
  maxMemoryBytes: {
    flag: "max-memory",
    env: "MAX_MEMORY",
    schema: bytesOrShare(0),
    help: "Memory bound on keys, values and overhead: bytes, 64mb, 1gb, or a share of " +
      "--memory-limit such as 70% (0: unbounded)",
  },
  memoryLimitBytes: {
    flag: "memory-limit",
    env: "MEMORY_LIMIT",
    schema: bytes(0),
    help: "The memory the process may use in all (a container's limit): what a --max-memory " +
      "given in % is a share of",
  },
  eviction: {
    flag: "eviction",
    env: "EVICTION",
    schema: z.enum(["lru", "noeviction"]).default("lru"),
    help: "At the bound: lru evicts least recently used keys, noeviction refuses writes (507)",
  },
  defaultTtlSeconds: {
    flag: "default-ttl",
    env: "DEFAULT_TTL",
    schema: z.coerce.number().min(0).max(MAX_TTL_SECONDS).default(0),
    help: "Seconds a key lives when a write gives no ttl (0: forever)",
  },
} as const;

/** The node's settings, the memory bound in bytes. */
export type NodeConfig = Omit<Settings<typeof nodeSettings>, "maxMemoryBytes"> & {
  maxMemoryBytes: number;
};

/**
 * Reads the node's settings from `env` and `args` (flags win); throws ConfigError naming the flag.
 * A memory bound given as a share is taken of `--memory-limit`, which it then needs.
 */
export function loadConfig(env: Record<string, string | undefined>, args: string[]): NodeConfig {
  const settings = loadSettings(nodeSettings, env, args);
  const bound = settings.maxMemoryBytes;
  if (typeof bound === "number") return { ...settings, maxMemoryBytes: bound };
  if (settings.memoryLimitBytes === 0) {
    throw new ConfigError(
      `Invalid --max-memory (MAX_MEMORY) "${bound.percent}%": a share needs --memory-limit ` +
        "(MEMORY_LIMIT)",
    );
  }
  const maxMemoryBytes = Math.floor(settings.memoryLimitBytes * bound.percent / 100);
  return { ...settings, maxMemoryBytes };
}

/** Bytes as {@link bytes} takes them, or a share of the memory limit: `70%`. */
function bytesOrShare(fallback: number) {
  return z.union([z.string(), z.number()]).default(fallback).transform((value, context) => {
    const share = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(String(value));
    if (share) {
      const percent = Number(share[1]);
      if (percent > 0 && percent <= 100) return { percent };
      context.addIssue({ code: "custom", message: "expected a share above 0% and up to 100%" });
      return z.NEVER;
    }
    const parsed = bytes(fallback).safeParse(value);
    if (parsed.success) return parsed.data;
    context.addIssue({
      code: "custom",
      message: "expected bytes such as 64mb or 1gb, or a share such as 70%",
    });
    return z.NEVER;
  });
}
