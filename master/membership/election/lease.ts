// A Kubernetes `coordination.k8s.io/v1` Lease as the election lock, taken over the way client-go
// does: only when the holder's renewals have not been seen for the lease duration.

import type { Attempt, Lock } from "./elector.ts";

/** The fields of a Lease the election reads and writes. Times are RFC 3339 with microseconds. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  /** Set by the API server on every write; a write must carry the one just read. */
  resourceVersion?: string;
}

/** The three Lease calls the election makes; the API server's 409 is thrown as {@link Conflict}. */
export interface LeaseApi {
  /** The Lease, or undefined when it does not exist. */
  read(): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces the Lease if its resourceVersion is still `record.resourceVersion`. */
  replace(record: LeaseRecord): Promise<LeaseRecord>;
}

/** Another writer changed the Lease since it was read (HTTP 409). */
export class Conflict extends Error {
  constructor(message = "The Lease changed since it was read") {
    super(message);
    this.name = "Conflict";
  }
}

/** The Lease API and timings. */
export interface LeaseLockOptions {
  api: LeaseApi;
  leaseDurationMs: number;
  /** A monotonic clock in milliseconds (`performance.now`): expiry is judged by it alone. */
  now: () => number;
  /** The wall clock the Lease's times are written in; `Date.now` unless given. */
  wallNow?: () => number;
}

/**
 * The election lock backed by a Lease. Expiry is judged by this process's own clock since it last
 * saw the Lease change, never by the holder's clock written in the Lease, so clocks that differ
 * between machines do not matter. The term is `leaseTransitions`.
 */
export class LeaseLock implements Lock {
  readonly #options: LeaseLockOptions;
  #observedVersion: string | undefined; // the Lease's resourceVersion when last seen to change
  #observedAt = 0;

  constructor(options: LeaseLockOptions) {
    this.#options = options;
  }

  async attempt(identity: string): Promise<Attempt> {
    const { api, now } = this.#options;
    const current = await api.read();
    const time = now();
    const wall = this.#wallNow();
    if (!current) {
      const created = await api.create(this.#record(identity, wall, wall, 0));
      this.#observe(created, time);
      return { leader: identity, term: created.leaseTransitions ?? 0 };
    }
    if (current.resourceVersion !== this.#observedVersion) this.#observe(current, time);
    const holder = current.holderIdentity || undefined;
    const transitions = current.leaseTransitions ?? 0;
    const expired = this.#observedAt + this.#durationMs(current) <= time;
    if (holder !== undefined && holder !== identity && !expired) {
      return { leader: holder, term: transitions };
    }
    const renewing = holder === identity;
    const written = await api.replace({
      ...this.#record(
        identity,
        renewing ? Date.parse(current.acquireTime ?? "") || wall : wall,
        wall,
        renewing ? transitions : transitions + 1,
      ),
      resourceVersion: current.resourceVersion,
    });
    this.#observe(written, time);
    return { leader: identity, term: written.leaseTransitions ?? 0 };
  }

  release(identity: string): Promise<void> {
    return this.#clear(identity);
  }

  /** Clears the holder as {@link release} does; a candidate takes the Lease on its next attempt. */
  evict(identity: string): Promise<void> {
    return this.#clear(identity);
  }

  /**
   * Leaves the Lease without a holder if `identity` holds it. The write carries the resourceVersion
   * just read, so it fails with {@link Conflict} if another candidate wrote in between.
   */
  async #clear(identity: string): Promise<void> {
    const current = await this.#options.api.read();
    if (!current || current.holderIdentity !== identity) return;
    const time = this.#wallNow();
    // As client-go's ReleaseOnCancel: no holder, and a lease of one second.
    await this.#options.api.replace({
      ...current,
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: microTime(time),
      renewTime: microTime(time),
    });
  }

  #record(identity: string, acquired: number, renewed: number, transitions: number): LeaseRecord {
    return {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#options.leaseDurationMs / 1000),
      acquireTime: microTime(acquired),
      renewTime: microTime(renewed),
      leaseTransitions: transitions,
    };
  }

  #wallNow(): number {
    return (this.#options.wallNow ?? Date.now)();
  }

  #observe(record: LeaseRecord, time: number): void {
    this.#observedVersion = record.resourceVersion;
    this.#observedAt = time;
  }

  #durationMs(record: LeaseRecord): number {
    const seconds = record.leaseDurationSeconds;
    return seconds && seconds > 0 ? seconds * 1000 : this.#options.leaseDurationMs;
  }
}

/**
 * A Kubernetes MicroTime: RFC 3339 with exactly six fractional digits, which the API server
 * requires (`Date#toISOString()` gives three and is refused with a 400).
 */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
