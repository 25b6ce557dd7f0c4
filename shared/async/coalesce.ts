// Gathers calls to a node while earlier ones are in flight, and sends what gathered as one batch.

/** How many calls a node gets at once, and how big a batch may grow. */
export interface CoalesceLimits<T> {
  /** Batches in flight to one node at a time; more work waits and joins the next batch. */
  inFlight: number;
  /** Items in one batch. */
  maxItems: number;
  /** Size of one batch, by `sizeOf`; an item bigger than this goes alone. */
  maxSize?: number;
  sizeOf?: (input: T) => number;
  /**
   * Called when a batch of `sent` calls to `node` failed with `error`, with `waiting` calls queued
   * behind it. Returns the error those calls fail with, unsent (for a node that did not answer in
   * time, so they do not wait a second timeout), or undefined to send them as usual.
   */
  failsWaiting?: (node: string, error: unknown, sent: number, waiting: number) => unknown;
}

/**
 * Sends one batch to `node`; resolves with one result per input, in order. A result may be a
 * promise of its own, for an input that had to be sent again alone; the batch holds its place
 * among the calls in flight until those settle too.
 */
export type SendBatch<T, R> = (node: string, inputs: T[]) => Promise<(R | Promise<R>)[]>;

interface Pending<T, R> {
  input: T;
  resolve: (result: R | Promise<R>) => void;
  reject: (error: unknown) => void;
}

interface Queue<T, R> {
  waiting: Pending<T, R>[];
  inFlight: number;
}

/**
 * Turns single calls into batches, per node: a call to an idle node is sent at once, alone, and
 * calls made while `inFlight` batches are out wait for one to come back and go together. Under
 * light load nothing waits; under heavy load one round trip carries many calls (group commit).
 *
 * @example
 * ```ts
 * const reads = new Coalescer<string, string>(
 *   (node, keys) => Promise.resolve(keys.map((key) => `${key} from ${node}`)),
 *   { inFlight: 2, maxItems: 1000 },
 * );
 * await reads.submit("http://a:1", "k"); // "k from http://a:1"
 * ```
 */
export class Coalescer<T, R> {
  readonly #send: SendBatch<T, R>;
  readonly #limits: CoalesceLimits<T>;
  readonly #queues = new Map<string, Queue<T, R>>();

  constructor(send: SendBatch<T, R>, limits: CoalesceLimits<T>) {
    this.#send = send;
    this.#limits = limits;
  }

  /** Sends `input` to `node` in the next batch; resolves with its own result. */
  submit(node: string, input: T): Promise<R> {
    let queue = this.#queues.get(node);
    if (!queue) {
      queue = { waiting: [], inFlight: 0 };
      this.#queues.set(node, queue);
    }
    // Not Promise.withResolvers: the client package runs on Node 20, which lacks it.
    const promise = new Promise<R>((resolve, reject) => {
      queue.waiting.push({ input, resolve, reject });
    });
    this.#pump(node, queue);
    return promise;
  }

  #pump(node: string, queue: Queue<T, R>): void {
    while (queue.inFlight < this.#limits.inFlight && queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, this.#batchLength(queue.waiting));
      queue.inFlight++;
      this.#sendBatch(node, queue, batch).finally(() => {
        queue.inFlight--;
        if (queue.inFlight === 0 && queue.waiting.length === 0) this.#queues.delete(node);
        else this.#pump(node, queue);
      });
    }
  }

  /** How many of the first waiting items fit in one batch: at least one. */
  #batchLength(waiting: Pending<T, R>[]): number {
    const { maxItems, maxSize, sizeOf } = this.#limits;
    const most = Math.min(waiting.length, maxItems);
    if (maxSize === undefined || !sizeOf) return most;
    let total = sizeOf(waiting[0].input);
    let length = 1;
    while (length < most) {
      total += sizeOf(waiting[length].input);
      if (total > maxSize) break;
      length++;
    }
    return length;
  }

  async #sendBatch(node: string, queue: Queue<T, R>, batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.#send(node, batch.map((pending) => pending.input));
      batch.forEach((pending, i) => pending.resolve(results[i]));
      await Promise.allSettled(results); // inputs sent again alone still hold the node's slot
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      const unsent = this.#limits.failsWaiting?.(node, error, batch.length, queue.waiting.length);
      if (unsent !== undefined) {
        for (const pending of queue.waiting.splice(0)) pending.reject(unsent);
      }
    }
  }
}
