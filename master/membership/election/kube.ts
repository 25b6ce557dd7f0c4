// The Lease calls of the election, made with @kubernetes/client-node.

import {
  ApiException,
  CoordinationV1Api,
  KubeConfig,
  type V1Lease,
  V1MicroTime,
} from "@kubernetes/client-node";
import { Conflict, type LeaseApi, type LeaseRecord } from "./lease.ts";

/** Which Lease, and how to reach the API server. */
export interface KubeLeaseOptions {
  name: string;
  namespace: string;
  /** Default: the in-cluster config of the pod's service account. */
  config?: KubeConfig;
}

/**
 * The Lease API of a Kubernetes API server.
 *
 * @example
 * ```ts
 * const api = kubeLeaseApi({ name: "cache-master", namespace: "default" }); // in a pod
 * const lease = await api.read();
 * ```
 */
export function kubeLeaseApi(options: KubeLeaseOptions): LeaseApi {
  const config = options.config ?? inCluster();
  const client = config.makeApiClient(CoordinationV1Api);
  const { name, namespace } = options;
  return {
    async read() {
      try {
        return toRecord(await client.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    async create(record) {
      return toRecord(
        await conflicts(() =>
          client.createNamespacedLease({ namespace, body: toLease(name, namespace, record) })
        ),
      );
    },
    async replace(record) {
      return toRecord(
        await conflicts(() =>
          client.replaceNamespacedLease({ name, namespace, body: toLease(name, namespace, record) })
        ),
      );
    },
  };
}

/** A config for an API server at `server` with a bearer token; for tests and local runs. */
export function kubeConfigFor(server: string, token: string): KubeConfig {
  const config = new KubeConfig();
  // The client refuses http:// unless told to skip TLS checks, which http:// has none of; an
  // https:// server is always verified.
  const plain = new URL(server).protocol === "http:";
  config.loadFromOptions({
    clusters: [{ name: "cluster", server, skipTLSVerify: plain }],
    users: [{ name: "user", token }],
    contexts: [{ name: "context", cluster: "cluster", user: "user" }],
    currentContext: "context",
  });
  return config;
}

function inCluster(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromCluster();
  return config;
}

async function conflicts<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiException && error.code === 409) throw new Conflict();
    throw error;
  }
}

function toLease(name: string, namespace: string, record: LeaseRecord): V1Lease {
  const time = (text?: string) => text ? new V1MicroTime(Date.parse(text)) : undefined;
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace, resourceVersion: record.resourceVersion },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: time(record.acquireTime),
      renewTime: time(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

function toRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  const time = (value?: Date | string) =>
    value === undefined ? undefined : value instanceof Date ? value.toISOString() : String(value);
  return {
    holderIdentity: spec.holderIdentity,
    leaseDurationSeconds: spec.leaseDurationSeconds,
    acquireTime: time(spec.acquireTime),
    renewTime: time(spec.renewTime),
    leaseTransitions: spec.leaseTransitions,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}
