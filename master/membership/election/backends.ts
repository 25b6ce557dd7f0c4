// Builds the election lock a master's settings ask for: a Kubernetes Lease or an etcd election.

import { circuitBreaker, ConsecutiveBreaker, handleWhen } from "cockatiel";
import { Etcd3, isRecoverableError } from "etcd3";
import type { Logger } from "@cache/log/log";
import type { Lock } from "./elector.ts";
import { EtcdLock } from "./etcd.ts";
import { kubeLeaseApi } from "./kube.ts";
import { LeaseLock } from "./lease.ts";

// Where main.ts finds it; the Elector, which defines identities, owns it.
export { urlOf } from "./elector.ts";

/** What building a lock needs from the master's settings. */
export interface LockSettings {
  election: "kubernetes" | "etcd";
  electionName: string;
  /** The Lease's namespace, with `--election kubernetes`. */
  namespace: string;
  etcdEndpoints?: string[];
  leaseDurationMs: number;
  /** Milliseconds between election attempts. */
  retryPeriodMs: number;
  /** A monotonic clock in milliseconds: the Lease's expiry is judged by it. */
  now: () => number;
  log: Logger;
}

/** A lock and what to close when the master stops. */
export interface Backend {
  lock: Lock;
  close(): void;
}

/** The lock for `settings.election`, with its client. */
export function electionBackend(settings: LockSettings): Backend {
  if (settings.election === "kubernetes") {
    const api = kubeLeaseApi({ name: settings.electionName, namespace: settings.namespace });
    const lock = new LeaseLock({
      api,
      leaseDurationMs: settings.leaseDurationMs,
      now: settings.now,
    });
    return { lock, close: () => {} };
  }
  const client = new Etcd3({
    hosts: settings.etcdEndpoints ?? [],
    // A host that failed three calls in a row is skipped, as the client's default does, but tried
    // again at the next attempt, not after its default 5 s: with an etcd back within the renew
    // deadline, the leader must be able to renew at once.
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: settings.retryPeriodMs,
          breaker: new ConsecutiveBreaker(3),
        }),
    },
  });
  const lock = new EtcdLock({
    client,
    name: settings.electionName,
    ttlSeconds: Math.max(1, Math.ceil(settings.leaseDurationMs / 1000)),
    log: settings.log,
  });
  return { lock, close: () => client.close() };
}
