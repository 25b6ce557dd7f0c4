// What an end-to-end scenario needs from the place services run in: processes or containers.

/** A running master or node. */
export interface Service {
  /** Where the test reaches it. */
  url: string;
  /** Where the cluster reaches it: a node's advertised address, or the master URL nodes use. */
  address: string;
  /** Every JSON log line it wrote so far, parsed. */
  logs: Record<string, unknown>[];
  /** Sends `signal` and waits for it to end; resolves to its exit code. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<number>;
}

/** Starts services for a scenario and stops them all afterwards. */
export interface Harness {
  /** The address of a master that is not started yet, for nodes to be pointed at. */
  masterAddress(): string;
  /** Starts a master, at `at` (from {@link masterAddress}) if given, with extra flags. */
  master(options?: { at?: string; args?: string[] }): Promise<Service>;
  /** Starts a node reporting to `masterAddress`, heartbeating every 100 ms, with extra flags. */
  node(masterAddress: string, args?: string[]): Promise<Service>;
  /** Stops everything still running. */
  stopAll(): Promise<void>;
}
