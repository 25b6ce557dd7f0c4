// The node's write path: placement check, local write, then every backup, before acknowledging.

import { HttpError } from "@cache/protocol/errors";
import { within } from "@cache/async/sleep";
import { checkValueSize, conditionFailed } from "@cache/protocol/key_routes";
import type { Counter, IncrRequest } from "@cache/protocol/wire";
import { versionOf } from "@cache/protocol/versions";
import {
  type EvictedState,
  newer,
  type NewerState,
  type ReplicateAnswer,
  type Stamp,
} from "@cache/protocol/replica";
import {
  checkAhead,
  latestEpoch,
  MAX_COPY_AHEAD_US,
  MAX_FLOOR_AHEAD_US,
  type Replicator,
  type Routing,
  versionAhead,
} from "./replicator.ts";
import type { RingRef } from "@cache/protocol/sender_ring";
import { EntryTooLargeError, type Replica, type Store, StoreFullError } from "../store/store.ts";
import type { Value } from "../store/records.ts";
import { MAX_REQUESTS_PER_KEY } from "../store/requests.ts";

/** Milliseconds a node asks the masters for a ring a peer's copies name, before it refuses them. */
const COPY_RING_WAIT_MS = 500;

/**
 * A write as a route gives it: `value` a string, or its UTF-8 bytes as the request carried them.
 */
export interface Item {
  key: string;
  value: Value;
  ttl?: number;
}

/** A write its sender stamped with a version of its own, sent to every owner of the key at once. */
export interface StampedItem extends Item {
  version: number;
}

/** What a conditional write needs of the key's state: see `SetRequest`. */
export interface Condition {
  if?: "absent" | "present";
  ifVersion?: string;
}

/** A key restamped by `Writer.#copy`: its version before (none for no state) and its new one. */
interface Restamped {
  from: string | undefined;
  version: number;
}

/**
 * Times a write's copies are restamped and sent again over backups that hold a newer state: each
 * round goes above what the last one found, so more only follows writes racing this one.
 */
const RESTAMP_ROUNDS = 2;

/** A decimal integer as a counter's value holds it: an optional minus, then digits. */
const INTEGER = /^-?\d{1,16}$/;

/**
 * Applies writes and deletes as the keys' primary: checks placement, stores locally, then copies
 * to every backup and resolves only once all have it. Without a replicator, it only stores.
 */
export class Writer {
  readonly #store: Store;
  readonly #replicator: Replicator | undefined;
  readonly #maxValueBytes: number;
  readonly #defaultTtlSeconds: number;

  constructor(
    store: Store,
    replicator: Replicator | undefined,
    maxValueBytes: number,
    defaultTtlSeconds = 0,
  ) {
    this.#store = store;
    this.#replicator = replicator;
    this.#maxValueBytes = maxValueBytes;
    this.#defaultTtlSeconds = defaultTtlSeconds;
  }

  /**
   * Writes `items`, all or none locally, then replicates them; `routing` says the ring epoch the
   * sender routed them in and its deadline. The writes are stamped with this node's ring epoch.
   * A value over the size limit refuses the whole batch (413) before anything is checked or
   * written; each value is measured once, for the limit and for the store's accounting. Bytes given
   * as a value must stay as they are until it settles (a server keeps a body until it answers).
   */
  async write(items: Item[], routing: Routing = {}, condition?: Condition): Promise<void> {
    const writes = items.map(({ key, value, ttl }) => ({
      key,
      value,
      ttlMs: (ttl ?? this.#defaultTtlSeconds) * 1000,
      valueBytes: checkValueSize(value, this.#maxValueBytes),
    }));
    const epoch = await this.#replicator?.checkPrimary(items.map((i) => i.key), routing) ?? 0;
    if (condition) {
      for (const { key } of items) await this.#newest(key, epoch);
      // From here to the store's write, nothing awaits: no other write comes between.
      this.#replicator?.checkStillPrimary(items.map((i) => i.key), epoch, routing.deadline);
      for (const { key } of items) this.#check(key, condition);
    }
    const { floor } = routing;
    // A replicator checks how far ahead a floor is; a node on its own checks it here.
    if (!this.#replicator && floor !== undefined) {
      checkAhead(floor, MAX_FLOOR_AHEAD_US, this.#store.now());
    }
    let versions: number[];
    try {
      versions = this.#store.setMany(writes, epoch, floor);
    } catch (error) {
      const replaced = !floor ||
        await this.#restamp(writes.map((w) => w.key), epoch, floor, routing.deadline);
      throw storeError(error, replaced);
    }
    // A value that came as bytes goes to the backups as those bytes.
    const replicas: Replica[] = writes.map((w, i) => ({
      key: w.key,
      version: versions[i],
      ...(epoch ? { epoch } : {}),
      value: w.value,
      ...(w.ttlMs > 0 ? { ttlMs: w.ttlMs } : {}),
    }));
    await this.#copy(replicas, epoch, routing.deadline);
  }

  /**
   * Sends `replicas`, written here as the keys' primary in ring `epoch`, to their backups;
   * resolves once every backup has them, with the keys restamped meanwhile (none for most
   * writes). A backup may hold a newer state of a key than its copy: a copy of a write sent to
   * every owner at once that this node never stored (refused, or not received), whose sender did
   * not write it again through here. It would hide the key's later writes on that backup, whose
   * versions from this clock come out below it, so this node gives its own state of the key, the
   * newest since it wrote the key in this ring, a version above it and sends that. Not once the
   * ring changed: the key may have new owners, and this node no state of it.
   */
  async #copy(
    replicas: Replica[],
    epoch: number,
    deadline?: number,
  ): Promise<Map<string, Restamped> | undefined> {
    const replicator = this.#replicator;
    if (!replicator) return undefined;
    let restamped: Map<string, Restamped> | undefined; // none on almost every write
    let held = await replicator.replicate(replicas, deadline);
    for (let round = 0; round < RESTAMP_ROUNDS && held.length > 0; round++) {
      const above = new Map<string, number>();
      for (const { key, epoch: heldEpoch = 0, version } of held) {
        // Another ring's state is not this node's to write over.
        if (epoch === 0 || heldEpoch !== epoch || !replicator.primaryIn(key, epoch)) continue;
        above.set(key, Math.max(above.get(key) ?? 0, version));
      }
      if (above.size === 0) break;
      const done = restamped ??= new Map();
      const again = [...above].map(([key, floor]) => {
        const from = done.get(key)?.from ?? this.#store.versionOf(key);
        const state = this.#store.restamp(key, epoch, floor);
        done.set(key, { from, version: state.version });
        return state;
      });
      held = await replicator.replicate(again, deadline);
    }
    return restamped;
  }

  /**
   * Gives `keys`' states here versions above `floor` and copies them to every backup: a
   * write this store refused was sent to every owner before, stamped `floor`, and a backup that
   * took its copy would otherwise keep a value its sender was told was not stored. Only once keys
   * have settled: while they move, a key's newest state may still be on its way here, and a state
   * restamped here would win over it. A backup not reached, or a copy made while keys move, stays,
   * as after a write whose answer was lost; the refusal is answered either way, and says so: see
   * {@link storeError}. Resolves whether every backup has this node's state now.
   */
  async #restamp(
    keys: string[],
    epoch: number,
    floor: number,
    deadline?: number,
  ): Promise<boolean> {
    const replicator = this.#replicator;
    if (!replicator) return true; // on its own: no other owner
    if (!replicator.settled) return false;
    const replicas = keys.map((key) => this.#store.restamp(key, epoch, floor));
    return await this.#copy(replicas, epoch, deadline).then(() => true, () => false);
  }

  /**
   * Applies writes their sender stamped and sent to every owner at once, each by this node's part
   * in its key: as its primary, only if the stamp is newer than anything this node holds or held
   * of the key (`Store.setStamped`); as a backup, if newer than its state here. Returns the
   * indexes of the items not stored, for the sender to write again through the primary. Nothing
   * is copied on: the sender sent each owner its copy. `routing` must name this node's ring epoch,
   * which stamps the writes (see `Replicator.checkOwners`).
   */
  async stamped(items: StampedItem[], routing: Routing = {}): Promise<number[]> {
    const writes = items.map(({ key, value, ttl }) => ({
      key,
      value,
      ttlMs: (ttl ?? this.#defaultTtlSeconds) * 1000,
      valueBytes: checkValueSize(value, this.#maxValueBytes),
    }));
    if (!this.#replicator) {
      throw new HttpError(421, "This node stands alone: write through POST /keys or /mset");
    }
    const newest = Math.max(...items.map((item) => item.version));
    const keys = items.map((item) => item.key);
    const { epoch, primary } = await this.#replicator.checkOwners(keys, newest, routing);
    const stale: number[] = [];
    try {
      writes.forEach((write, i) => {
        const stamp = { epoch, version: items[i].version };
        if (primary[i]) {
          if (this.#store.setStamped(write, stamp)) stale.push(i);
          return;
        }
        const ttl = write.ttlMs > 0 ? { ttlMs: write.ttlMs } : {};
        if (this.#store.apply({ key: write.key, value: write.value, ...stamp, ...ttl })) return;
        // Not newer. The same stamp here is another sender's write, which its primary ordered, or
        // will refuse, as this one; a newer one may be a copy its primary never stored, which
        // would hide this write here. Either way the sender writes it again through the primary,
        // which then writes over both (see #copy).
        stale.push(i);
      });
    } catch (error) {
      throw storeError(error);
    }
    return stale;
  }

  /**
   * Adds `by` to `key`'s value, a decimal integer (a key not stored starts at 0), as its primary,
   * then replicates it. `ttl` sets the key's TTL; without it the key keeps the one it had (a new
   * key gets the default). An increment whose `requestId` this node remembers (its own, or one
   * that came with the key's state) is not applied again: it answers what it answered, once the
   * key's state is on every backup. Throws 409 for a value that is not a decimal integer or a
   * result past the safe integers, changing nothing.
   */
  async incr(key: string, request: IncrRequest, routing: Routing = {}): Promise<Counter> {
    const epoch = await this.#replicator?.checkPrimary([key], routing) ?? 0;
    await this.#newest(key, epoch);
    // No await from here to the write.
    this.#replicator?.checkStillPrimary([key], epoch, routing.deadline);
    const { by, ttl, requestId, retry } = request;
    const store = this.#store;
    const applied = requestId === undefined ? undefined : store.recall(key, requestId);
    if (applied) {
      const version = await this.#replicateState(key, epoch, applied.version, routing);
      return { key, value: applied.value, version: this.#versionNow(key, requestId, version) };
    }
    if (retry && requestId !== undefined && store.requestsFull(key)) {
      throw new HttpError(
        409,
        `Key "${key}" cannot tell whether increment "${requestId}" was applied: its owners ` +
          `keep the ids of its last ${MAX_REQUESTS_PER_KEY} increments (fewer once ids of ` +
          "many keys fill their room), and this one is not among them. This retry was not " +
          "applied; the first try may have been",
        { requestId, applied: "unknown" },
      );
    }
    const current = store.peek(key);
    const value = current === undefined ? 0 : Number(current.value);
    if (current !== undefined && !(INTEGER.test(current.value) && Number.isSafeInteger(value))) {
      throw new HttpError(409, `Key "${key}" does not hold a decimal integer: cannot add to it`);
    }
    const result = value + by;
    if (!Number.isSafeInteger(result)) {
      throw new HttpError(409, `${value} + ${by} is past the safe integers (2^53 - 1): not added`);
    }
    const ttlMs = ttl !== undefined
      ? ttl * 1000
      : current
      ? current.ttlMs ?? 0
      : this.#defaultTtlSeconds * 1000;
    const written = this.#set(key, String(result), ttlMs, epoch);
    const version = versionOf({ epoch, version: written });
    if (requestId !== undefined) store.remember(key, { id: requestId, value: result, version });
    const now = await this.#replicateState(key, epoch, version, routing, written);
    return { key, value: result, version: this.#versionNow(key, requestId, now) };
  }

  /**
   * The version an increment answers once its state is on every backup: the one its request id
   * is remembered with, which a restamp of its state (by any write's copies) moved along and a
   * retry answers too; else `version`.
   */
  #versionNow(key: string, requestId: string | undefined, version: string): string {
    if (requestId === undefined) return version;
    return this.#store.recall(key, requestId)?.version ?? version;
  }

  /**
   * Sets `key`'s TTL to `ttl` seconds from now, or none for null, as its primary, then replicates
   * it: a write with a new version. Resolves false, changing nothing, for a key not stored.
   */
  async touch(key: string, ttl: number | null, routing: Routing = {}): Promise<boolean> {
    const epoch = await this.#replicator?.checkPrimary([key], routing) ?? 0;
    await this.#newest(key, epoch);
    // No await from here to the write.
    this.#replicator?.checkStillPrimary([key], epoch, routing.deadline);
    const current = this.#store.peek(key);
    if (current === undefined) return false;
    const written = this.#set(key, current.value, (ttl ?? 0) * 1000, epoch);
    await this.#replicateState(
      key,
      epoch,
      versionOf({ epoch, version: written }),
      routing,
      written,
    );
    return true;
  }

  /** Refuses with 421 a request routed with an older ring than this node's (`checkRing`). */
  async checkRing(routing: Routing, sender?: RingRef): Promise<void> {
    await this.#replicator?.checkRing(routing, sender);
  }

  /** Brings a newer ring here first when `routing` says one exists: see `Replicator.catchUp`. */
  async catchUp(routing: Routing): Promise<void> {
    await this.#replicator?.catchUp(routing);
  }

  /**
   * Deletes `key` here and on its backups; resolves whether it was stored: here, or, while keys
   * move, on a node it has not come from yet.
   */
  async delete(key: string, routing: Routing = {}): Promise<boolean> {
    const epoch = await this.#replicator?.checkPrimary([key], routing) ?? 0;
    const elsewhere = this.#store.peek(key) === undefined &&
      await this.#storedElsewhere(key, epoch);
    // No await from here to the deletion.
    this.#replicator?.checkStillPrimary([key], epoch, routing.deadline);
    const { found, version } = this.#store.delete(key, epoch);
    const deletion = { key, version, ...(epoch ? { epoch } : {}), deleted: true };
    await this.#copy([deletion], epoch, routing.deadline);
    return found || elsewhere;
  }

  /**
   * Whether `key`, not here, is stored on a node it has not come from yet, while keys move: by the
   * newest of its states there and here. Their copy is not taken in: the deletion, made in this
   * ring, is newer than any of them, and taking it in could take room the store does not have
   * (507) or evict another key. A node that cannot tell leaves the answer to this one alone: the
   * deletion does not need it.
   */
  async #storedElsewhere(key: string, epoch: number): Promise<boolean> {
    if (!this.#mayBeNewerElsewhere(key, epoch)) return false;
    let states: Replica[];
    try {
      states = await this.#replicator!.statesElsewhere(key, epoch);
    } catch {
      return false;
    }
    let newest: Stamp & { deleted?: boolean } | undefined = this.#store.replica(key); // a deletion
    for (const state of states) if (!newest || newer(state, newest)) newest = state;
    return newest !== undefined && !newest.deleted;
  }

  /**
   * Makes this store's state of `key` the newest in the cluster before a read-modify-write in ring
   * `epoch`: while keys move, a state written before this ring may be newer on another node (the
   * key still on its way here), so it is fetched first. A state written in this ring is the
   * newest already: only the primary writes in it.
   */
  async #newest(key: string, epoch: number): Promise<void> {
    if (!this.#mayBeNewerElsewhere(key, epoch)) return;
    this.apply(await this.#replicator!.statesElsewhere(key, epoch));
  }

  /**
   * Whether another node may hold a newer state of `key` than this one in ring `epoch`: not once
   * this node wrote it in that ring, where only the primary writes.
   */
  #mayBeNewerElsewhere(key: string, epoch: number): boolean {
    return this.#replicator !== undefined && (epoch === 0 || this.#store.epochOf(key) !== epoch);
  }

  /** Throws 412 unless `key`'s state here meets `condition`. */
  #check(key: string, condition: Condition): void {
    const version = this.#store.versionOf(key) ?? null;
    const { if: state, ifVersion } = condition;
    let failed: string | undefined;
    if (state === "absent" && version !== null) failed = '"if": "absent"';
    if (state === "present" && version === null) failed = '"if": "present"';
    if (ifVersion !== undefined && version !== ifVersion) failed = `"ifVersion": "${ifVersion}"`;
    if (failed === undefined) return;
    throw conditionFailed(key, version, failed);
  }

  /** Stores one value in ring `epoch` and returns its version (within the epoch). */
  #set(key: string, value: string, ttlMs: number, epoch: number): number {
    const valueBytes = checkValueSize(value, this.#maxValueBytes);
    try {
      const [version] = this.#store.setMany([{ key, value, ttlMs, valueBytes }], epoch);
      return version;
    } catch (error) {
      throw storeError(error);
    }
  }

  /**
   * Sends `key`'s state here, written in ring `epoch`, with its request ids, to its backups;
   * resolves with the version of the state that was `version`: new if that very state was
   * restamped meanwhile, not if a later write's was. `written`, the version of a write just made,
   * is sent as a deletion when that write left no state: its TTL was due at once (under a
   * millisecond), and the backups would otherwise keep the value it wrote over, forever.
   */
  async #replicateState(
    key: string,
    epoch: number,
    version: string,
    routing: Routing,
    written?: number,
  ): Promise<string> {
    const state = this.#store.replica(key) ??
      (written === undefined ? undefined : this.#endOf(key, epoch, written));
    if (!state) return version;
    const restamped = (await this.#copy([state], epoch, routing.deadline))?.get(key);
    if (restamped?.from !== version) return version;
    return versionOf({ epoch, version: restamped.version });
  }

  /** The deletion that ends `key`'s write `written`, due at once, with its request ids. */
  #endOf(key: string, epoch: number, written: number): Replica {
    const requests = this.#store.requestsOf(key); // a retry must not apply it again on a backup
    return {
      key,
      version: written,
      ...(epoch ? { epoch } : {}),
      deleted: true,
      ...(requests ? { requests } : {}),
    };
  }

  /**
   * Applies replicas sent by a primary or a node handing keys over; returns how many changed, and
   * the keys whose state here is newer than their copy's, with that state's stamp. Throws the
   * refusal of {@link applyWhatFits} when it refused some (no room, or stamped too far ahead).
   */
  apply(replicas: Replica[]): ReplicateAnswer {
    const { answer, refusal } = this.applyWhatFits(replicas);
    if (refusal) throw refusal;
    return answer;
  }

  /**
   * Lets go of the states primaries evicted (`/evicted`), as `Store.dropEvicted` does, but for a
   * notice stamped past any version or ring epoch a node could have given yet (as for peers'
   * states: {@link MAX_COPY_AHEAD_US}, `latestEpoch()`): remembered, it would refuse every copy of
   * its key for its time; and for a key this node is the primary of in its ring, whose value it
   * serves: dropped, the key was on its backups alone, missed by reads, and back after a failover
   * (a notice of the primary before, sent as the ring changed, leaves it too). Returns how many
   * values were forgotten.
   */
  dropEvicted(notices: EvictedState[]): number {
    const now = this.#store.now();
    const epoch = this.#replicator?.ringEpoch;
    const latest = latestEpoch(now, epoch);
    let dropped = 0;
    for (const { key, ...stamp } of notices) {
      if (stampAhead(stamp, now, latest)) continue;
      if (epoch !== undefined && this.#replicator!.primaryIn(key, epoch)) continue;
      if (this.#store.dropEvicted(key, stamp)) dropped++;
    }
    return dropped;
  }

  /**
   * As {@link applyWhatFits}, for the copies a peer sent (`/replicate`): in a cluster, none may be
   * in a ring epoch past the newest ring the masters have, fetched first when a copy names a later
   * one than this node's. A copy in a ring no master made (an epoch a minute past the clock, say,
   * where a running cluster's epochs lag it by its uptime) beat every later write of its key.
   * `stillOpen` throws if copies may no longer be taken, checked after asking for the ring.
   */
  applyCopies(
    replicas: Replica[],
    stillOpen: () => void = () => {},
  ): CopiesApplied | Promise<CopiesApplied> {
    const known = this.#replicator?.ringEpoch;
    if (known === undefined) return this.applyWhatFits(replicas); // no ring: the clock bounds them
    let newest = 0;
    for (const { epoch = 0 } of replicas) if (epoch > newest) newest = epoch;
    if (newest <= known) return this.applyWhatFits(replicas, known);
    // Within a while: the sender waits for the answer (2 s by default), and a copy this node
    // cannot place in a ring yet is refused, as it is when the masters do not answer.
    return within(this.catchUp({ epoch: newest }), COPY_RING_WAIT_MS, undefined).then(() => {
      stillOpen();
      return this.applyWhatFits(replicas, this.#replicator!.ringEpoch ?? known);
    });
  }

  /**
   * As {@link apply}, but copies the store has no room for (413, 507) do not stop the others: their
   * keys come back as `refused`, with `refusal`, the HttpError that names them, so that a node
   * handing keys over counts the rest as taken, those this node held already among them. So are
   * copies stamped too far ahead (409): a version more than {@link MAX_COPY_AHEAD_US} past this
   * node's clock, or a ring epoch past `latest` (by default `latestEpoch()`: a minute past this
   * node's clock and ring), whether a peer's `/replicate` sent them ({@link applyCopies}) or they
   * are states read from peers while keys move.
   */
  applyWhatFits(
    replicas: Replica[],
    latest?: number,
  ): CopiesApplied {
    const now = this.#store.now();
    const latestRing = latest ?? latestEpoch(now, this.#replicator?.ringEpoch);
    let applied = 0;
    const held: NewerState[] = [];
    const refused: string[] = [];
    let refusal: StoreFullError | EntryTooLargeError | HttpError | undefined;
    for (const replica of replicas) {
      const ahead = stampAhead(replica, now, latestRing);
      if (ahead) {
        refusal ??= ahead;
        refused.push(replica.key);
        continue;
      }
      try {
        if (this.#store.apply(replica)) {
          applied++;
          continue;
        }
      } catch (error) {
        if (!(error instanceof StoreFullError || error instanceof EntryTooLargeError)) throw error;
        refusal ??= error;
        refused.push(replica.key);
        continue;
      }
      const stamp = this.#store.stampOf(replica.key);
      if (stamp && newer(stamp, replica)) {
        held.push({ key: replica.key, version: stamp.version, ...epochOf(stamp) });
        continue;
      }
      // A flush went through its version: its sender either drops it too, or, having written
      // it after the flush with a clock behind it, gives it a version above and sends it again.
      const flushed = this.#store.flushedThrough;
      if (replica.version <= flushed) {
        held.push({ key: replica.key, version: flushed, ...epochOf(replica) });
      }
    }
    const answer = held.length > 0 ? { applied, newer: held } : { applied };
    if (!refusal) return { answer, refused };
    const { status, message } = storeError(refusal) as HttpError;
    const others = refused.length < replicas.length ? ", the others taken" : "";
    const taken = `${refused.length} of ${replicas.length} copies refused${others}`;
    return { answer, refused, refusal: new HttpError(status, `${taken}: ${message}`, { refused }) };
  }
}

/**
 * The 409 for a copy stamped past what any node could have given yet: a version too far past
 * `nowMs`, this node's clock, or a ring epoch past `latestEpoch`. Either would put every later
 * write of its key behind it.
 */
function stampAhead(stamp: Stamp, nowMs: number, latestEpoch: number): HttpError | undefined {
  const epoch = stamp.epoch ?? 0;
  if (epoch <= latestEpoch) return versionAhead(stamp.version, MAX_COPY_AHEAD_US, nowMs);
  return new HttpError(
    409,
    `Ring epoch ${epoch} is past ${latestEpoch}, the latest this node takes now: no ring has it ` +
      "yet",
  );
}

/** Copies applied: the answer, the keys of those refused, and the error that names them. */
export interface CopiesApplied {
  answer: ReplicateAnswer;
  refused: string[];
  refusal?: HttpError;
}

/** The stamp's ring epoch as a replica carries it: absent for none. */
function epochOf(stamp: Stamp): { epoch?: number } {
  return stamp.epoch ? { epoch: stamp.epoch } : {};
}

/**
 * A store refusal as the HTTP error it answers; `replaced` is false when copies of the write's
 * first try may stay on other owners.
 */
function storeError(error: unknown, replaced = true): unknown {
  // The sender's stamped first try may have reached other owners, which keep it when this node
  // could not replace it there: the refusal does not claim that nothing changed.
  const where = replaced ? "" : ". Not stored here, but copies of its first try may stay on " +
    "other owners (keys are moving, or a backup was not reached) until the key is written again";
  if (error instanceof EntryTooLargeError) return new HttpError(413, error.message + where);
  if (error instanceof StoreFullError) return new HttpError(507, error.message + where);
  return error;
}
